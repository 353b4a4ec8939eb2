#!/usr/bin/env bash
# The paper configuration of run.sh, cut to the time a lent GPU allows: each of teacher,
# Standard and ND trains for TRAIN_SECONDS (fairseq's --stop-time-hours), then greedy and
# beam-5 decoding of the test set and the metrics. Needs the binaries and text files that
# run.sh makes, in DATA (bin/, bin-negative/, test.tgt, train.tgt, vocab.txt).
#   bash examples/dailydialog/gpu_paper_run.sh DATA OUT_DIR [TRAIN_SECONDS]
set -uo pipefail
data=${1:?usage: gpu_paper_run.sh DATA OUT_DIR [TRAIN_SECONDS]}
out=${2:?usage}
seconds=${3:-80}
hours=$(python3 -c "print($seconds / 3600)")
work=/tmp/paper
mkdir -p "$work" "$out/outputs"
common=(--user-dir nd_fairseq --arch transformer_nd --optimizer adam --adam-betas '(0.9,0.98)'
        --lr 0.000247 --lr-scheduler inverse_sqrt --warmup-updates 128000 --warmup-init-lr 0
        --batch-size 256 --fp16 --label-smoothing 0.1 --seed 1 --num-workers 0 --no-epoch-checkpoints
        --no-progress-bar --log-format json --log-interval 100 --best-checkpoint-metric nll_loss
        --stop-time-hours "$hours" --max-epoch 100)
train() {
  local name=$1 bin=$2; shift 2
  fairseq-train "$bin" --save-dir "$work/$name" "${common[@]}" "$@" >"$out/$name.log" 2>&1
  grep -E '\| (valid|train) \|' "$out/$name.log" | tail -2 | cut -c 1-400
}
train teacher "$data/bin-negative" --task translation --criterion label_smoothed_cross_entropy
train standard "$data/bin" --task translation --criterion label_smoothed_cross_entropy
train nd "$data/bin" --task negative_distillation --teacher-path "$work/teacher/checkpoint_best.pt" \
  --criterion negative_distillation --nd-lambda 4 --nd-gamma 25600 --nd-temperature 1
for system in teacher standard nd; do
  for beam in 1 5; do
    name=$([ "$beam" = 1 ] && echo greedy || echo beam5)
    fairseq-generate "$data/bin" --user-dir nd_fairseq --task negative_distillation --path "$work/$system/checkpoint_best.pt" \
      --gen-subset test --beam "$beam" --max-len-b 50 --batch-size 512 2>/dev/null \
      | grep '^H-' | sed 's/^H-//' | sort -n -k1,1 | cut -f3 >"$out/outputs/$system.$name.txt"
  done
done
python3 -m nd_fairseq.eval.results --outputs "$out/outputs" --ref "$data/test.tgt" --train "$data/train.tgt" \
  --vocab "$data/vocab.txt" --json-out "$out/results_paper_gpu.json"
