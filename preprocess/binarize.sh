#!/usr/bin/env bash
# Source entropy -> D_N -> fairseq binaries with one shared dictionary, for any folder of
# pair files in the authors' format.
#
#   bash preprocess/binarize.sh PAIRS_DIR OUT_DIR [RATIO] [UNIT]
#
# PAIRS_DIR holds {train,valid,test}_data.txt (query__eou__response). Writes
#   OUT_DIR/text/      parallel .src/.tgt files and train.score (H_src per training pair)
#   OUT_DIR/bin        full training set D + valid + test         (the student's data)
#   OUT_DIR/bin-negative  the top RATIO (default 0.5) of D by H_src + the same valid/test
#                      (the negative teacher's data)
#   OUT_DIR/bin-bottom the rest of D, D_b + the same valid/test (the bottom teacher N_b of the
#                      paper's Tables 6-7)
# UNIT is source_entropy.py's --unit: "ngram" (default; Eq. 4 over shared 5-grams of NLTK
# tokens, as the authors' released scores were computed) or "response" (whole responses
# matched exactly).
# Both binaries use the dictionary built from the full training set (queries and responses
# together), so teacher and student share every token id.
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;; esac
pairs=${1:?usage: binarize.sh PAIRS_DIR OUT_DIR [RATIO] [UNIT]}
out=${2:?usage: binarize.sh PAIRS_DIR OUT_DIR [RATIO] [UNIT]}
ratio=${3:-0.5}
unit=${4:-ngram}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=${PYTHON:-python}
export PYTHONWARNINGS=ignore

for split in train valid test; do
  [ -f "$pairs/${split}_data.txt" ] || { echo "error: $pairs/${split}_data.txt not found" >&2; exit 2; }
done
mkdir -p "$out"
tmp="$out/.binarize.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

"$py" "$here/source_entropy.py" "$pairs/train_data.txt" --scores "$tmp/text/train.score" \
  --ratio "$ratio" --unit "$unit" --all "$tmp/text/train" --negative "$tmp/text/train.negative" --rest "$tmp/text/train.rest"
for split in valid test; do
  "$py" "$here/source_entropy.py" "$pairs/${split}_data.txt" --scores "$tmp/text/$split.score" --all "$tmp/text/$split" >/dev/null
done

fairseq-preprocess --source-lang src --target-lang tgt --joined-dictionary --workers 2 \
  --trainpref "$tmp/text/train" --validpref "$tmp/text/valid" --testpref "$tmp/text/test" \
  --destdir "$tmp/bin" >"$tmp/preprocess.log" 2>&1 || { cat "$tmp/preprocess.log" >&2; exit 1; }
fairseq-preprocess --source-lang src --target-lang tgt --workers 2 \
  --srcdict "$tmp/bin/dict.src.txt" --tgtdict "$tmp/bin/dict.tgt.txt" \
  --trainpref "$tmp/text/train.negative" --validpref "$tmp/text/valid" --testpref "$tmp/text/test" \
  --destdir "$tmp/bin-negative" >>"$tmp/preprocess.log" 2>&1 || { cat "$tmp/preprocess.log" >&2; exit 1; }
fairseq-preprocess --source-lang src --target-lang tgt --workers 2 \
  --srcdict "$tmp/bin/dict.src.txt" --tgtdict "$tmp/bin/dict.tgt.txt" \
  --trainpref "$tmp/text/train.rest" --validpref "$tmp/text/valid" --testpref "$tmp/text/test" \
  --destdir "$tmp/bin-bottom" >>"$tmp/preprocess.log" 2>&1 || { cat "$tmp/preprocess.log" >&2; exit 1; }
echo "dictionary: $(wc -l <"$tmp/bin/dict.src.txt") types + 4 specials (shared by $out/bin, bin-negative and bin-bottom)"

# move the finished outputs into place only now: an interrupted run leaves nothing half-made
for d in text bin bin-negative bin-bottom; do
  rm -rf "${out:?}/$d"
  mv "$tmp/$d" "$out/$d"
done
