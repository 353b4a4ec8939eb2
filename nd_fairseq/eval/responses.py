"""The responses of a fairseq-generate log, one a line in example-id order.

    python -m nd_fairseq.eval.responses GENERATE_LOG --out OUT.txt [--expect REFERENCES]

``--expect`` names the references the responses must align with: a log with another number
of hypotheses is an error and OUT is not written.
"""
import argparse
import os
import sys

from .io import EvalInputError, read_hypotheses, read_text


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nd_fairseq.eval.responses", description=__doc__.split("\n\n")[0])
    parser.add_argument("log", help="output of fairseq-generate (its H- lines are read)")
    parser.add_argument("--out", required=True, help="where to write the responses, one a line")
    parser.add_argument("--expect", help="reference file with one line per example: the counts must agree")
    args = parser.parse_args(argv)
    try:
        responses = read_hypotheses(args.log)
        if args.expect and len(responses) != len(read_text(args.expect)):
            raise EvalInputError(
                f"{args.log} has {len(responses)} hypotheses for the {len(read_text(args.expect))} lines of "
                f"{args.expect}: decode the whole split (every example must have a response)"
            )
    except EvalInputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(r + "\n" for r in responses)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
