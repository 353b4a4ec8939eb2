# The fairseq flags of one configuration of the DailyDialog experiment, shared by run.sh and
# study.sh: source it with $config set (cpu or paper); it sets model, optim, common, nd,
# teacher_epochs, student_epochs and gen_batch.
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
        --no-progress-bar --log-format json --log-interval 50 --best-checkpoint-metric nll_loss)
