#!/usr/bin/env bash
# The whole method on the bundled DailyDialog sample, in a few minutes on 2 CPU cores:
# set-up -> source entropy and D_N -> negative teacher (MLE on D_N) -> ND student (on D)
# -> fairseq-generate greedy and beam 5 -> a few responses printed.
#
#   bash examples/demo.sh [WORK_DIR]        (default: work/demo)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${1:-$root/work/demo}
bash "$root/examples/setup_env.sh" >/dev/null
export PATH="$root/.venv/bin:$PATH" PYTHONWARNINGS=ignore
user_dir="$root/nd_fairseq"
mkdir -p "$work"

echo "== 1. source entropy, D_N and binarization (one shared dictionary)"
bash "$root/preprocess/binarize.sh" "$root/examples/sample" "$work/data"

common=(--arch transformer_nd_tiny --optimizer adam --adam-betas '(0.9,0.98)' --lr 0.002
        --lr-scheduler inverse_sqrt --warmup-updates 100 --max-tokens 2000 --max-epoch 6
        --label-smoothing 0.1 --no-epoch-checkpoints --no-progress-bar --log-format simple
        --log-interval 50 --seed 1 --num-workers 0 --best-checkpoint-metric nll_loss)

echo "== 2. negative teacher: MLE on D_N"
fairseq-train "$work/data/bin-negative" --user-dir "$user_dir" --task negative_distillation \
  --criterion label_smoothed_cross_entropy "${common[@]}" --save-dir "$work/teacher" \
  | grep -E "\| (train|valid) \|" | tail -2

echo "== 3. ND student on D, away from the teacher (alpha peaks at update 250 of ~490)"
fairseq-train "$work/data/bin" --user-dir "$user_dir" --task negative_distillation \
  --teacher-path "$work/teacher/checkpoint_best.pt" --criterion negative_distillation \
  --nd-gamma 250 "${common[@]}" --save-dir "$work/student" \
  | grep -E "\| (train|valid) \|" | tail -2

for beam in 1 5; do
  echo "== 4. fairseq-generate, beam $beam"
  fairseq-generate "$work/data/bin" --user-dir "$user_dir" --task negative_distillation \
    --path "$work/student/checkpoint_best.pt" --gen-subset test --beam "$beam" \
    --max-tokens 4000 --max-len-b 40 >"$work/generate.beam$beam.txt" 2>"$work/generate.beam$beam.log"
  tail -1 "$work/generate.beam$beam.txt"
done
echo "== a few responses (greedy):"
for id in 0 1 2 3 4; do
  awk -F'\t' -v id="$id" '$1 == "S-" id {print "   query:    " $2} $1 == "H-" id {print "   response: " $3}' "$work/generate.beam1.txt"
done
echo "done; outputs in $work"
