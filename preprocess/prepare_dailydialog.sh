#!/usr/bin/env bash
# DailyDialog from the original release to fairseq binaries for the teacher and the student.
#
#   bash preprocess/prepare_dailydialog.sh DATA_DIR OUT_DIR
#
# DATA_DIR/original/ holds the release (dialogues_{train,validation,test}.txt). When
# DATA_DIR also has the authors' valid_data.txt and test_data.txt, they are the valid/test
# sets and the training set is the rest of the release (see preprocess/README.md);
# otherwise the release's own splits are used. Results: OUT_DIR/pairs, OUT_DIR/text,
# OUT_DIR/bin (D) and OUT_DIR/bin-negative (D_N), one shared dictionary.
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;; esac
data=${1:?usage: prepare_dailydialog.sh DATA_DIR OUT_DIR}
out=${2:?usage: prepare_dailydialog.sh DATA_DIR OUT_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=${PYTHON:-python}
heldout=()
if [ -f "$data/valid_data.txt" ] && [ -f "$data/test_data.txt" ]; then
  heldout=(--heldout "$data/valid_data.txt" "$data/test_data.txt")
fi
"$py" "$here/dailydialog_pairs.py" "$data/original" "$out/pairs" "${heldout[@]}"
bash "$here/binarize.sh" "$out/pairs" "$out"
