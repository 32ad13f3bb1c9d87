"""The CLI. The only place that reads argv and the environment.

modelnode serve [--host H] [--port P] [--data-dir DIR] [--model-repository URL_OR_DIR]
modelnode models list
modelnode artifacts build SOURCE_DIR OUT_DIR --name NAME --version V --format F
modelnode artifacts repository DIR
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from modelnode import catalog
from modelnode.config import OFFICIAL_MODEL_REPOSITORY, Settings, default_data_dir


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from modelnode.api import build_app

    _Server = _server_class()

    repo = args.model_repository
    if "://" not in repo:
        repo = str(Path(repo).expanduser().resolve())
    settings = Settings(
        data_dir=Path(args.data_dir).expanduser().resolve(),
        host=args.host,
        port=args.port,
        model_repository=repo,
        inference_backend=args.backend,
        device=args.device,
    )
    app = build_app(settings)
    print(f"modelnode listening on http://{settings.host}:{settings.port}", flush=True)
    print(f"data directory: {settings.data_dir}", flush=True)
    print(f"model repository: {settings.model_repository}", flush=True)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=args.log_level.lower(), timeout_graceful_shutdown=10
    )
    server = _Server(config)
    asyncio.run(server.serve())
    return 0 if server.started else 1


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """SIGINT/SIGTERM: stop accepting, finish in-flight requests, run shutdown, exit 0.
        (uvicorn's own handler re-raises the signal after shutdown, so a clean stop would look
        like a crash to whoever supervises the process.)"""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def _models_list(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(catalog.listing(), indent=2))
        return 0
    for m in catalog.CATALOG:
        fmts = ",".join(f.value for f in m.formats)
        extra = f"  dim={m.dimension} space={m.space_type}" if m.dimension else ""
        print(f"{m.name}  {m.latest_version}  {m.function_name.value}  {fmts}{extra}")
    return 0


def _artifacts_build(args: argparse.Namespace) -> int:
    from modelnode.artifacts.build import build_artifact

    built = build_artifact(
        Path(args.source),
        Path(args.out),
        name=args.name,
        version=args.version,
        model_format=args.format.upper(),
        description=args.description,
        space_type=args.space_type,
    )
    print(f"{built.zip_path}  sha256={built.sha256}  size={built.size}")
    print(f"{built.config_path}")
    return 0


def _artifacts_repository(args: argparse.Namespace) -> int:
    from modelnode.artifacts.build import build_repository

    formats = tuple(f.upper() for f in args.formats.split(","))
    built = build_repository(Path(args.dir), formats=formats)
    for b in built:
        print(f"{b.zip_path}  sha256={b.sha256}")
    print(f"{len(built)} artifact(s) in {Path(args.dir).resolve()}")
    return 0 if built else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="modelnode", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the REST server")
    s.add_argument("--host", default=os.environ.get("MODELNODE_HOST", "127.0.0.1"))
    s.add_argument("--port", type=int, default=int(os.environ.get("MODELNODE_PORT", "9200")))
    s.add_argument("--data-dir", default=os.environ.get("MODELNODE_DATA_DIR") or str(default_data_dir()))
    s.add_argument(
        "--model-repository",
        default=os.environ.get("MODELNODE_MODEL_REPOSITORY", OFFICIAL_MODEL_REPOSITORY),
        help="http(s):// URL, file:// URL or directory in the official artifact layout",
    )
    s.add_argument(
        "--backend",
        choices=("auto", "fake"),
        default="auto",
        help="inference backend; 'fake' is a deterministic stand-in for tests",
    )
    s.add_argument("--device", default="cpu", help="cpu, or cuda[:N] for GPU execution providers")
    s.add_argument("--log-level", default=os.environ.get("MODELNODE_LOG_LEVEL", "info"))
    s.set_defaults(func=_serve)

    m = sub.add_parser("models", help="the pretrained catalog")
    msub = m.add_subparsers(dest="models_command", required=True)
    ml = msub.add_parser("list", help="list the pretrained catalog")
    ml.add_argument("--json", action="store_true", help="print the official pre_trained_models.json shape")
    ml.set_defaults(func=_models_list)

    a = sub.add_parser("artifacts", help="build OpenSearch model artifacts")
    asub = a.add_subparsers(dest="artifacts_command", required=True)
    b = asub.add_parser("build", help="turn a Hugging Face sentence-transformers folder into an artifact")
    b.add_argument("source")
    b.add_argument("out")
    b.add_argument("--name", required=True, help="e.g. huggingface/sentence-transformers/all-MiniLM-L6-v2")
    b.add_argument("--version", required=True)
    b.add_argument("--format", required=True, choices=("TORCH_SCRIPT", "ONNX", "torch_script", "onnx"))
    b.add_argument("--description")
    b.add_argument("--space-type")
    b.set_defaults(func=_artifacts_build)
    r = asub.add_parser("repository", help="build a local repository from every locally installed model")
    r.add_argument("dir")
    r.add_argument("--formats", default="TORCH_SCRIPT,ONNX")
    r.set_defaults(func=_artifacts_repository)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    level = getattr(args, "log_level", "info").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
