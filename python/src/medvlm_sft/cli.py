"""`medvlm-sft`: the trainer's command line.

Heavy imports (torch, transformers, trl) happen inside the command functions, so `--help`,
`schema` and `validate` stay instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medvlm_sft import __version__


def _cmd_schema(args: argparse.Namespace) -> int:
    from medvlm_sft.config.schema import write_schema

    path = write_schema(args.out)
    if args.out is not None:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    if args.stdin and len(args.config) > 1:
        args.parser.error("--stdin reads one config, so give exactly one CONFIG")
    from medvlm_sft.config.validate import run_validate_command

    return run_validate_command(args.config, check_data=args.check_data, as_json=args.json, from_stdin=args.stdin)


def _cmd_train(args: argparse.Namespace) -> int:
    from medvlm_sft.train.runner import run_train_command

    resume_from = args.resume_from
    if resume_from is not None and resume_from != "latest":
        # A folder named on the command line is relative to where the command runs, like any path argument.
        resume_from = str(Path(resume_from).expanduser().resolve())
    return run_train_command(
        args.config,
        args.run_dir,
        run_id=args.run_id,
        base_dir=args.base_dir,
        resume_from=resume_from,
        attempt=args.attempt,
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _cmd_format(args: argparse.Namespace) -> int:
    from medvlm_sft.data.commands import run_format_command
    from medvlm_sft.data.formatting import FormatOptions

    options = FormatOptions(args.detection_prompt, args.box_convention)
    return run_format_command(
        args.records, args.tasks, args.model_family, args.limit, args.model, options=options, with_index=args.with_index
    )


def _cmd_prepare(args: argparse.Namespace) -> int:
    from medvlm_sft.data.commands import run_prepare_command

    return run_prepare_command(args.config, args.run_dir, args.base_dir)


def _cmd_merge(args: argparse.Namespace) -> int:
    from medvlm_sft.train.merge import run_merge_command

    return run_merge_command(args.path, args.out, args.base, args.dtype, args.max_shard_size)


def _cmd_make_tiny_model(args: argparse.Namespace) -> int:
    from medvlm_sft.models.tiny import make_tiny_model

    make_tiny_model(args.out, family=args.family, seed=args.seed)
    print(args.out)
    return 0


def _cmd_records(args: argparse.Namespace) -> int:
    import json

    from medvlm_sft.data.records import DataError, read_records

    problems: list[DataError] = []
    try:
        records = read_records(args.records, problems)
    except DataError as e:
        print(f"medvlm-sft records: {e}", file=sys.stderr)
        return 2
    lines = [{"index": r.index, "line": r.line, "record": r.data} for r in records]
    lines += [{"index": p.record, "line": 0, "error": str(p)} for p in problems if p.record is not None]
    for line in sorted(lines, key=lambda item: item["index"]):
        # Parquet cells may hold numpy or date values: written as their text, never dropped.
        sys.stdout.write(json.dumps(line, default=str) + "\n")
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    from medvlm_sft.data.chat import run_chat_command

    return run_chat_command(args.model, args.config_dir)


def _cmd_split(args: argparse.Namespace) -> int:
    from medvlm_sft.data.commands import run_split_command

    return run_split_command(args.config, args.base_dir)


def _cmd_make_demo_data(args: argparse.Namespace) -> int:
    from medvlm_sft.data.demo import make_demo_data

    make_demo_data(args.out, seed=args.seed)
    print(args.out)
    return 0


def _add_base_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--base-dir",
        type=Path,
        default=None,
        help="folder that relative paths in the config resolve against (default: the config's folder)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medvlm-sft",
        description="Supervised fine-tuning of vision-language models on medical images.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("schema", help="write the run config's JSON schema")
    p.add_argument("--out", type=Path, default=None, help="file to write (default: standard output)")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser(
        "validate",
        help="check run configs and print every problem with its YAML path",
        description="Check run configs. Exit status: 0 without errors (warnings allowed), 1 with errors, "
        "2 when a config cannot be read; the worst over all CONFIGs.",
    )
    # Strings, not Paths: the JSON reports name each config exactly as it was given.
    p.add_argument("config", nargs="+", metavar="CONFIG", help="*.sft.yaml run configs")
    p.add_argument(
        "--check-data",
        action="store_true",
        help="also open the data sources and model folder it names (with --json: report the dataset sizes as `data`)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print the problems as JSON (for the editor); with several CONFIGs, one line each with "config"',
    )
    p.add_argument(
        "--stdin",
        action="store_true",
        help="read the config text from standard input (UTF-8); CONFIG still anchors relative paths and "
        "names it in messages, and need not exist",
    )
    p.set_defaults(func=_cmd_validate, parser=p)

    p = sub.add_parser("train", help="run supervised fine-tuning, writing events.jsonl and checkpoints")
    p.add_argument("config", type=Path, help="a *.sft.yaml run config")
    p.add_argument("--run-dir", type=Path, required=True, help="the run folder (created if missing)")
    p.add_argument("--run-id", default=None, help="run id for events (default: the run folder's name)")
    p.add_argument(
        "--base-dir",
        type=Path,
        default=None,
        help="folder that relative paths in the config resolve against (default: the config's folder); "
        "the launcher passes the original config's folder since the run folder holds a copy",
    )
    p.add_argument(
        "--resume-from",
        metavar="latest|PATH",
        default=None,
        help="resume from the newest complete checkpoint in the run folder (`latest`, which skips one a crash or a "
        "full disk left incomplete) or from a checkpoint folder; overrides checkpoints.resume_from",
    )
    p.add_argument(
        "--attempt",
        type=_positive_int,
        default=None,
        help="number of this start in the run folder, recorded in run_started (default: one more than the starts "
        "already in its events.jsonl; the launcher passes the number it recorded)",
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "format",
        help="print each record's chat messages and image sizes as JSON lines (what the model is trained on)",
        description="One JSON line per record on stdout: "
        '{"messages": [...], "image_size": [H, W], "model_image_size": [H2, W2]}. '
        "Bad records are reported on stderr as file:line and get no line; the exit status is then 1.",
    )
    p.add_argument("--records", type=Path, required=True, help="records file (.jsonl, .json or .parquet)")
    p.add_argument("--tasks", type=Path, default=None, help="task metadata file (tasks.json) for MedVision records")
    p.add_argument(
        "--model-family",
        required=True,
        choices=["qwen2_5_vl", "medgemma", "generic"],
        help="decides the resize (generic: the --model processor's fixed height and width, else the slice's size)",
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N records of the file")
    p.add_argument(
        "--with-index",
        action="store_true",
        help='start each line with the record\'s 0-based "index", and print {"index", "error"} for a bad record',
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="model folder whose processor config sets the resize (default: the published Qwen2.5-VL-Instruct "
        "settings min_pixels 3136, max_pixels 12845056, patch 14, merge 2; MedGemma 896x896)",
    )
    p.add_argument(
        "--detection-prompt",
        choices=["reference", "benchmark"],
        default="reference",
        help="detection format requirement: the reference SFT text or the benchmark's (data.detection_prompt)",
    )
    p.add_argument(
        "--box-convention",
        choices=["reference", "pixel_edge"],
        default="reference",
        help="detection targets: max_coords as-is (reference) or their far pixel edge (data.box_convention)",
    )
    p.set_defaults(func=_cmd_format)

    p = sub.add_parser(
        "records",
        help="print a records file's records as JSON lines (the editor reads .parquet through this)",
        description='One JSON line per record: {"index", "line", "record"}, or {"index", "line", "error"} '
        "for a record that cannot be read.",
    )
    p.add_argument("records", type=Path, help="records file (.jsonl, .json or .parquet)")
    p.set_defaults(func=_cmd_records)

    p = sub.add_parser(
        "split",
        help="print which split (train, val, unused, error) each record of a run config's data lands in",
        description='One JSON line per record of each data source: {"source", "records", "index", "split"}, '
        "by the run's own split (seed, limits, group_by_volume). Reads records and image headers only.",
    )
    p.add_argument("config", type=Path, help="a *.sft.yaml run config")
    _add_base_dir(p)
    p.set_defaults(func=_cmd_split)

    p = sub.add_parser(
        "chat",
        help="answer chat-template requests (JSON lines on stdin) with the model's own processor",
        description='Loads the processor once, prints {"ready": true} (or {"ready": false, "error"}), then '
        'answers each stdin line {"id", "messages"} with {"id", "text", "answer_start"} or {"id", "error"} '
        "until stdin closes. The sample preview uses it to show the chat-templated turn.",
    )
    p.add_argument("--model", required=True, help="model.base: a local model folder or a Hugging Face Hub id")
    p.add_argument(
        "--config-dir", type=Path, default=None, help="folder that a relative --model resolves against (default: .)"
    )
    p.set_defaults(func=_cmd_chat)

    p = sub.add_parser(
        "prepare",
        help="read, check, decode and cache a run config's data without training (progress on stderr)",
    )
    p.add_argument("config", type=Path, help="a *.sft.yaml run config")
    p.add_argument("--run-dir", type=Path, default=None, help="also write events to <run-dir>/events.jsonl")
    _add_base_dir(p)
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("merge", help="merge a trained LoRA adapter into its base model (a standard HF folder)")
    p.add_argument(
        "path",
        type=Path,
        help="a run folder (its checkpoints/final, else its newest checkpoint) or a checkpoint folder",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="output folder (default: RUN_DIR/merged, or <checkpoint>-merged)"
    )
    p.add_argument("--base", default=None, help="base model folder or Hub id (default: the one recorded at training)")
    p.add_argument(
        "--dtype",
        choices=["bfloat16", "float16", "float32"],
        default=None,
        help="weights dtype of the merged model (default: the run's model.dtype, bfloat16 when it was auto)",
    )
    p.add_argument("--max-shard-size", default="2GB", help="largest safetensors shard (default: 2GB)")
    p.set_defaults(func=_cmd_merge)

    p = sub.add_parser("make-tiny-model", help="build a tiny random model, processor and tokenizer offline")
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--family", choices=["qwen2_5_vl", "medgemma"], default="qwen2_5_vl")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_make_tiny_model)

    p = sub.add_parser("make-demo-data", help="write a small synthetic MedVision-format dataset")
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_make_demo_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
