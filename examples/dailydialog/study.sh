#!/usr/bin/env bash
# The ND-works study: train one system with a checkpoint every SAVE_EVERY updates, decode the
# VALIDATION set greedily with every checkpoint and score it, so that a metric can be plotted
# against the update and every choice is made on validation (the test set is never touched).
#
#   bash examples/dailydialog/study.sh WORK_DIR NAME BIN EPOCHS [fairseq-train args...]
#
# WORK_DIR holds data/ from run.sh's preprocess step. Writes WORK_DIR/NAME/ (checkpoints),
# WORK_DIR/logs/NAME.log and WORK_DIR/study/NAME.tsv (one row per checkpoint: update, valid
# metrics, mean response length). Resumable: a finished training or decoding is skipped.
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;; esac
work=$(cd "${1:?usage: study.sh WORK_DIR NAME BIN EPOCHS [args]}" && pwd)
name=${2:?}; bin=${3:?}; epochs=${4:?}; shift 4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export PATH="$root/.venv/bin:$PATH" PYTHONWARNINGS=ignore
config=cpu
source "$here/config.sh"
save_every=${SAVE_EVERY:-150}
mkdir -p "$work/logs" "$work/study/$name"
if [ ! -f "$work/$name.trained" ]; then
  echo "== train $name ($(date -u +%H:%M:%S))"
  start=$SECONDS
  fairseq-train "$bin" --user-dir "$root/nd_fairseq" --save-dir "$work/$name" --max-epoch "$epochs" \
    "${common[@]}" "${smoothing[@]}" --save-interval-updates "$save_every" --keep-interval-updates -1 "$@" \
    >"$work/logs/$name.log" 2>&1 || { tail -20 "$work/logs/$name.log" >&2; exit 1; }
  echo -e "$name\t$((SECONDS - start))" >>"$work/study/timing.tsv"
  touch "$work/$name.trained"
fi
out="$work/study/$name.tsv"
# the run's final state too, under the update it was saved at
last=$(grep '| valid |' "$work/logs/$name.log" | tail -1 | sed 's/.*"valid_num_updates": "\([0-9]*\)".*/\1/')
ls "$work/$name"/checkpoint_*_"$last".pt >/dev/null 2>&1 || ln -f "$work/$name/checkpoint_last.pt" "$work/$name/checkpoint_last_$last.pt"
# latest first: the end of a run is what is read first
for ckpt in $(ls "$work/$name"/checkpoint_*_*.pt | sort -t_ -k3 -n -r); do
  update=$(basename "$ckpt" .pt | sed 's/.*_//')
  hyp="$work/study/$name/valid.$update.log"
  [ -f "$hyp" ] && continue
  fairseq-generate "$work/data/bin" --user-dir "$root/nd_fairseq" --task negative_distillation \
    --path "$ckpt" --gen-subset valid --beam 1 --max-len-b 50 "${gen_batch[@]}" >"$hyp.tmp" 2>"$hyp.err"
  mv "$hyp.tmp" "$hyp"
done
python "$here/trajectory.py" "$work" "$name" ${VOCAB:+--vocab "$VOCAB"} >"$out.tmp"
mv "$out.tmp" "$out"
echo "== $name: $out"
