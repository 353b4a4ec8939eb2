#!/usr/bin/env bash
# The paper's DailyDialog experiment end to end: preprocess -> negative teacher -> Standard
# and ND students -> greedy and beam-5 decoding of the test set -> metrics table.
#
#   bash examples/dailydialog/run.sh DATA_DIR [cpu|paper] [WORK_DIR]
#
# DATA_DIR: the DailyDialog release in DATA_DIR/original/ plus, for the paper's valid/test
# split, the authors' valid_data.txt, test_data.txt and vocab.txt (see README.md here).
# Resumable: every finished step leaves WORK_DIR/<step>.done and is skipped on a rerun.
# Variants: ND_EXTRA="--nd-hid-weight 14" adds flags to the ND student's training; RESULTS_DIR
# (default: this folder) receives outputs/, results.json and nd_training.png.
set -euo pipefail
data=$(cd "${1:?usage: run.sh DATA_DIR [cpu|paper] [WORK_DIR]}" && pwd)
config=${2:-cpu}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${3:-$root/work/dailydialog-$config}
results=${RESULTS_DIR:-$here}
read -r -a nd_extra <<<"${ND_EXTRA:-}"
bash "$root/examples/setup_env.sh" >/dev/null
export PATH="$root/.venv/bin:$PATH" PYTHONWARNINGS=ignore
user_dir="$root/nd_fairseq"
mkdir -p "$work/logs"
timing="$work/timing.tsv"

step() {  # step NAME COMMAND...: run once, log its wall time
  local name=$1; shift
  if [ -f "$work/$name.done" ]; then echo "== $name: done before, skipped"; return; fi
  echo "== $name ($(date -u +%H:%M:%S))"
  local start=$SECONDS
  "$@"
  echo -e "$name\t$((SECONDS - start))" >>"$timing"
  touch "$work/$name.done"
}

case $config in
  cpu)  # ~90 minutes on 2 CPU cores; alpha peaks 45% into the ND run (gamma = 1000 of ~2250 updates)
    model=(--arch transformer_nd_tiny --encoder-embed-dim 128 --decoder-embed-dim 128
           --encoder-ffn-embed-dim 256 --decoder-ffn-embed-dim 256
           --encoder-attention-heads 4 --decoder-attention-heads 4
           --dropout 0.1 --attention-dropout 0.1 --activation-dropout 0.1)
    optim=(--optimizer adam --adam-betas '(0.9,0.98)' --lr 0.001 --lr-scheduler inverse_sqrt
           --warmup-updates 400 --max-tokens 2048 --clip-norm 1.0)
    teacher_epochs=4; student_epochs=3
    nd=(--nd-lambda 4 --nd-gamma 1000 --nd-temperature 1)
    gen_batch=(--max-tokens 8000) ;;
  paper)  # Appendix A: transformer base sizes, batch 256, Adam, warm-up, lambda 4, gamma 25600, t 1
    model=(--arch transformer_nd)
    # Eq. 17 is 2 * min(s^-1/2, s * s_wp^-3/2) / sqrt(512): inverse_sqrt with lr 2/sqrt(512 * s_wp)
    optim=(--optimizer adam --adam-betas '(0.9,0.98)' --lr 0.000247 --lr-scheduler inverse_sqrt
           --warmup-updates 128000 --warmup-init-lr 0 --batch-size 256 --fp16)
    teacher_epochs=${PAPER_EPOCHS:-100}; student_epochs=${PAPER_EPOCHS:-100}
    nd=(--nd-lambda 4 --nd-gamma 25600 --nd-temperature 1)
    gen_batch=(--batch-size 512) ;;
  *) echo "unknown config '$config' (cpu or paper)" >&2; exit 2 ;;
esac
common=("${model[@]}" "${optim[@]}" --label-smoothing 0.1 --seed 1 --num-workers 0
        --no-epoch-checkpoints --no-progress-bar --log-format json --log-interval 50
        --best-checkpoint-metric nll_loss)

step preprocess bash "$root/preprocess/prepare_dailydialog.sh" "$data" "$work/data"

train() {  # train NAME DATA EPOCHS ARGS...
  local name=$1 bin=$2 epochs=$3; shift 3
  fairseq-train "$bin" --user-dir "$user_dir" --save-dir "$work/$name" --max-epoch "$epochs" \
    --tensorboard-logdir "$work/tensorboard/$name" "${common[@]}" "$@" >"$work/logs/$name.log" 2>&1 \
    || { tail -20 "$work/logs/$name.log" >&2; return 1; }
  grep '| valid |' "$work/logs/$name.log" | tail -1
}
step teacher train teacher "$work/data/bin-negative" "$teacher_epochs" \
  --task translation --criterion label_smoothed_cross_entropy
step standard train standard "$work/data/bin" "$student_epochs" \
  --task translation --criterion label_smoothed_cross_entropy
step nd train nd "$work/data/bin" "$student_epochs" \
  --task negative_distillation --teacher-path "$work/teacher/checkpoint_best.pt" \
  --criterion negative_distillation "${nd[@]}" "${nd_extra[@]}"

decode() {  # decode SYSTEM BEAM NAME
  local out="$results/outputs/$1.$3.txt" log="$work/logs/generate.$1.$3.log"
  mkdir -p "$results/outputs"
  fairseq-generate "$work/data/bin" --user-dir "$user_dir" --task negative_distillation \
    --path "$work/$1/checkpoint_best.pt" --gen-subset test --beam "$2" --max-len-b 50 \
    "${gen_batch[@]}" >"$log" 2>"$log.err" || { tail -5 "$log.err" >&2; return 1; }
  # one response per line in test-set order, as the references
  grep '^H-' "$log" | sed 's/^H-//' | sort -n -k1,1 | cut -f3 >"$out.tmp"
  [ "$(wc -l <"$out.tmp")" = "$(wc -l <"$work/data/text/test.tgt")" ] \
    || { echo "error: $log has $(wc -l <"$out.tmp") hypotheses for $(wc -l <"$work/data/text/test.tgt") test pairs" >&2; return 1; }
  mv "$out.tmp" "$out"
}
for system in teacher standard nd; do
  step "decode-$system-greedy" decode "$system" 1 greedy
  step "decode-$system-beam5" decode "$system" 5 beam5
done

vocab=()
[ -f "$data/vocab.txt" ] && vocab=(--vocab "$data/vocab.txt")
score() {
  python -m nd_fairseq.eval.results --outputs "$results/outputs" --ref "$work/data/text/test.tgt" \
    --train "$work/data/text/train.tgt" "${vocab[@]}" --json-out "$results/results.json"
}
step score score
python -m nd_fairseq.eval.plot "$work/logs/nd.log" "$results/nd_training.png"
echo "results: $results/results.json; timings: $timing"
