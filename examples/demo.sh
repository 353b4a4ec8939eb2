#!/usr/bin/env bash
# The whole method on the bundled DailyDialog sample (6,000 pairs), in a few minutes on 2 CPU cores:
# set-up -> source entropy and D_N -> negative teacher (MLE on D_N) -> Standard and the ND student
# (on D) -> fairseq-generate -> a table of the paper's metrics and a few responses.
#
#   bash examples/demo.sh [WORK_DIR [PAIRS_DIR]]   (defaults: work/demo, the bundled examples/sample)
#
# PAIRS_DIR: {train,valid,test}_data.txt of query__eou__response lines; DEMO_EPOCHS (default 6)
# sets the epochs of each training (the tests run the demo on a few hundred pairs for 1 epoch).
#
# Resumable: a finished step is skipped when the demo is run again (an interrupted training resumes
# from its last checkpoint); delete WORK_DIR to start afresh. Every training log is kept in
# WORK_DIR/logs, a line per epoch is printed, and ND's alpha and loss terms are drawn in
# WORK_DIR/nd_training.png. One thread per process (OMP_NUM_THREADS, unless set): on a loaded
# 2-core machine torch's two threads were slower than one, and results repeat exactly only with the
# same thread count.
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;; esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${1:-$root/work/demo}
pairs=${2:-$root/examples/sample}
echo "== 0. set-up (.venv, first time only)"
bash "$root/examples/setup_env.sh" >/dev/null
export PATH="$root/.venv/bin:$PATH" PYTHONWARNINGS=ignore OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
user_dir="$root/nd_fairseq"
mkdir -p "$work/logs" "$work/outputs"

step() {  # step NAME COMMAND...: run once; a failure says which step and where its log is
  if [ -f "$work/$1.done" ]; then echo "   (done before; delete $work/$1.done to redo)"; return; fi
  "${@:2}" || { echo "error: step '$1' failed; the end of $work/logs/$1.log:" >&2; tail -n 3 "$work/logs/$1.log" >&2
                exit 1; }
  touch "$work/$1.done"
}

echo "== 1. source entropy, D_N and binarization (one shared dictionary)"
step data bash -c "bash '$root/preprocess/binarize.sh' '$pairs' '$work/data' >'$work/logs/data.log' 2>&1"

common=(--task negative_distillation --arch transformer_nd_tiny --optimizer adam --adam-betas '(0.9,0.98)'
        --lr 0.002 --lr-scheduler inverse_sqrt --warmup-updates 100 --max-tokens 2000 --max-epoch "${DEMO_EPOCHS:-6}"
        --label-smoothing 0.1 --no-epoch-checkpoints --no-progress-bar --log-format json
        --log-interval 50 --seed 1 --num-workers 0)
# checkpoint_best.pt: the lowest validation loss for the teacher (the checkpoint that teaches), the lowest
# validation NLL for the students; but the students are decoded at the run's end (checkpoint_last.pt, the same
# budget for both), as an ND student's NLL rises while alpha pushes it away from the teacher (its `loss`, which
# mixes in the ND terms, falls with alpha and says nothing about the checkpoint)
train() {  # train NAME DATA [fairseq-train args]: its log in logs/NAME.log, one line per epoch shown
  local name=$1 data=$2
  shift 2
  fairseq-train "$data" --user-dir "$user_dir" --save-dir "$work/$name" "${common[@]}" "$@" 2>&1 \
    | tee -a "$work/logs/$name.log" | python -u -m nd_eval.progress
}
echo "== 2. negative teacher: MLE on D_N"
step teacher train teacher "$work/data/bin-negative" --criterion label_smoothed_cross_entropy \
  --best-checkpoint-metric loss
echo "== 3. Standard: MLE on D"
step standard train standard "$work/data/bin" --criterion label_smoothed_cross_entropy --best-checkpoint-metric nll_loss
echo "== 4. ND student on D, away from the teacher (alpha rises over the ~490 updates to 0.87, as in the cpu recipe)"
step nd train nd "$work/data/bin" --teacher-path "$work/teacher/checkpoint_best.pt" \
  --criterion negative_distillation --nd-gamma 560 --best-checkpoint-metric nll_loss
python -m nd_eval.plot "$work/logs/nd.log" "$work/nd_training.png" | sed 's/^/   /'

decode() {  # decode SYSTEM CHECKPOINT: greedy responses to the test queries
  fairseq-generate "$work/data/bin" --user-dir "$user_dir" --task negative_distillation \
    --path "$work/$1/$2" --gen-subset test --beam 1 --max-tokens 4000 --max-len-b 40 \
    >"$work/logs/decode-$1.log" 2>&1 &&
  python -m nd_eval.responses "$work/logs/decode-$1.log" --expect "$work/data/text/test.tgt" \
    --out "$work/outputs/$1.greedy.txt"
}
echo "== 5. fairseq-generate (greedy) and the paper's metrics on the sample's test set"
step decode-teacher decode teacher checkpoint_best.pt
for system in standard nd; do
  step "decode-$system" decode "$system" checkpoint_last.pt
done
python -m nd_eval.results --outputs "$work/outputs" --ref "$work/data/text/test.tgt" \
  --train "$work/data/text/train.tgt" --json-out "$work/results.json"
echo "== a few test queries and the greedy responses (Standard | ND):"
# sed reads the whole input: head would leave paste to die of SIGPIPE, fatal under pipefail (exit 141)
paste "$work/data/text/test.src" "$work/outputs/standard.greedy.txt" "$work/outputs/nd.greedy.txt" | sed -n 1,5p |
  awk -F'\t' '{print "   query:    " $1 "\n   standard: " $2 "\n   nd:       " $3}'
echo "done; outputs, logs and results in $work"
