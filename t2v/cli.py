"""The `t2v` command: one Hydra composition root per subcommand, parsed once at the door.

`t2v SUB [overrides] [-m] [--config-dir DIR]` composes every job of the invocation with Hydra's
compose API and parses it into the command's typed configuration (bad input: one line on
stderr, exit 2, nothing written). A single job then runs in this process from that one
composition. A sweep (`-m`) is handed to `hydra.main`, whose sweeper and launcher (local,
submitit, Slurm) run each job where it belongs; each job parses its configuration again there,
since a remote worker composes its own. Flags that only print (`--help`, `--cfg`, `--info`)
go to `hydra.main` as they are.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import itertools
import logging.config
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from t2v.errors import ConfigError, T2VError

CONFIG_MODULE = "t2v.conf"
MAX_SWEEP_JOBS = 10_000


@dataclass(frozen=True)
class Command:
    summary: str
    # A module with `settings(cfg: DictConfig) -> S` (parse and check; writes nothing) and
    # `run(settings: S) -> None`.
    module: str
    # Whether the job's output folder is the command's `run_dir` (generate, pretrain), rather
    # than an input it reads (render, evaluate).
    writes_run_dir: bool


COMMANDS: dict[str, Command] = {
    "generate": Command(
        "optimise a 4D scene from a prompt and a genre, render it to video.mp4",
        "t2v.commands.generate",
        writes_run_dir=True,
    ),
    "render": Command(
        "re-render a finished run at any trajectory, length, size and fps",
        "t2v.commands.render",
        writes_run_dir=False,
    ),
    "evaluate": Command(
        "score finished runs (CLIP R-precision, consistency, motion) into metrics.json",
        "t2v.commands.evaluate",
        writes_run_dir=False,
    ),
    "export": Command(
        "export a finished run's 4D scene as animated GLB, OBJ sequence or Gaussian PLYs",
        "t2v.commands.export",
        writes_run_dir=False,
    ),
    "view": Command(
        "one self-contained HTML page of a run (video, 3D, metrics), or a gallery of runs",
        "t2v.commands.view",
        writes_run_dir=False,
    ),
    "pretrain": Command(
        "pre-train a video diffusion prior and its SR prior on video-text data",
        "t2v.commands.pretrain",
        writes_run_dir=True,
    ),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [
        "usage: t2v COMMAND [key=value ...] [-m] [hydra flags]",
        "",
        "Text + genre to video by optimising a 4D scene with score distillation (MAV3D).",
        "",
        "commands:",
        *(f"  {name:<{width}}  {cmd.summary}" for name, cmd in COMMANDS.items()),
        "",
        "`t2v COMMAND --help` lists that command's config groups and defaults.",
        'example: t2v generate prompt="a red ball bouncing" genre=cartoon',
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        from t2v import __version__

        print(f"t2v {__version__}")
        return 0
    name, rest = args[0], args[1:]
    try:
        if name not in COMMANDS:
            raise ConfigError(f"unknown command '{name}'; choose one of: {', '.join(COMMANDS)}")
        register_resolvers()
        invocation = parse_flags(name, rest)
        if invocation.prints_only:
            return run_hydra(name, rest)
        command = importlib.import_module(COMMANDS[name].module)
        jobs = check_invocation(name, invocation, command)
        if invocation.multirun:
            return run_hydra(name, rest)
        cfg, settings = jobs[0]
        start_job(cfg)
        command.run(settings)
    except T2VError as error:
        print(f"t2v {name}: {error}", file=sys.stderr)
        return error.exit_code
    return 0


# --- the invocation ----------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    overrides: list[str]
    multirun: bool
    config_dir: Path | None
    prints_only: bool  # --help, --cfg, --info, ...: Hydra prints, no job runs


def parse_flags(name: str, rest: list[str]) -> Invocation:
    """Hydra's command-line flags that t2v supports (its own parser is internal to Hydra)."""
    parser = argparse.ArgumentParser(prog=f"t2v {name}", add_help=False, exit_on_error=False)
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("-m", "--multirun", action="store_true")
    parser.add_argument("-cd", "--config-dir")
    for flag in (("-h", "--help"), ("--hydra-help",), ("-i", "--info"), ("--resolve",)):
        parser.add_argument(*flag, action="store_true")
    parser.add_argument("-c", "--cfg", choices=("job", "hydra", "all"))
    parser.add_argument("-p", "--package")
    parser.add_argument("-sc", "--shell-completion", action="store_true")
    try:
        parsed, unknown = parser.parse_known_args(rest)
    except (argparse.ArgumentError, SystemExit) as error:
        raise ConfigError(f"cannot read the arguments {' '.join(rest)!r} ({error})") from None
    if unknown:
        raise ConfigError(f"unknown flag(s) {' '.join(unknown)}; see `t2v {name} --help`")
    prints = (
        parsed.help or parsed.hydra_help or parsed.info or parsed.cfg or parsed.shell_completion
    )
    config_dir = None
    if parsed.config_dir and not prints:
        config_dir = Path(parsed.config_dir).expanduser().resolve()
        if not config_dir.is_dir():
            raise ConfigError(f"--config-dir {parsed.config_dir} is not a directory")
    return Invocation(parsed.overrides, parsed.multirun, config_dir, bool(prints))


def check_invocation(
    name: str, invocation: Invocation, command: ModuleType
) -> list[tuple[DictConfig, Any]]:
    """Compose and parse every job the invocation would run; the first bad one raises."""
    jobs = expand_jobs(invocation.overrides, invocation.multirun, command=name)
    if invocation.config_dir is not None:
        search = f"hydra.searchpath=[file://{invocation.config_dir}]"
        jobs = [[*job, search] for job in jobs]
    checked = []
    for number, overrides in enumerate(jobs):
        try:
            cfg = compose(name, overrides)
            run_dir = job_run_dir(cfg, number, multirun=invocation.multirun)
            checked.append((cfg, job_settings(name, command, cfg, run_dir)))
        except T2VError as error:
            prefix = f"job {number} ({' '.join(overrides)}): " if len(jobs) > 1 else ""
            raise type(error)(f"{prefix}{error}") from None
    return checked


def job_settings(name: str, command: ModuleType, cfg: DictConfig, run_dir: Path | None) -> Any:
    """The command's typed configuration of one composed job (its `hydra` node left out)."""
    job = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    OmegaConf.set_struct(job, False)
    if COMMANDS[name].writes_run_dir and run_dir is not None:
        job.run_dir = str(run_dir)
    return command.settings(job)


def start_job(cfg: DictConfig) -> None:
    """What `hydra.main` does before a job, for the one job run here: the job's logging
    (console, and a log file in its folder) and `HydraConfig` (Lightning's DDP launcher asks
    it where the job runs, so that every rank uses the same run folder)."""
    from hydra.core.hydra_config import HydraConfig

    output_dir = Path(str(cfg.hydra.run.dir)).absolute()
    with open_dict(cfg.hydra):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.runtime.cwd = os.getcwd()
    logging_node = OmegaConf.to_container(cfg.hydra.job_logging, resolve=True)
    if isinstance(logging_node, dict) and logging_node:
        for handler in logging_node.get("handlers", {}).values():
            if "filename" in handler:
                Path(handler["filename"]).parent.mkdir(parents=True, exist_ok=True)
        logging.config.dictConfig(logging_node)
    HydraConfig.instance().set_config(cfg)


def run_hydra(name: str, rest: list[str]) -> int:
    import hydra
    from hydra.core.hydra_config import HydraConfig

    command = COMMANDS[name]

    def task(cfg: DictConfig) -> None:
        try:
            module = importlib.import_module(command.module)
            run_dir = Path(HydraConfig.get().runtime.output_dir)
            module.run(job_settings(name, module, cfg, run_dir))
        except T2VError as error:
            print(f"t2v {name}: {error}", file=sys.stderr)
            raise SystemExit(error.exit_code) from None

    sys.argv = [f"t2v-{name}", *rest]
    hydra.main(version_base=None, config_path=f"pkg://{CONFIG_MODULE}", config_name=name)(task)()
    return 0


def register_resolvers() -> None:
    """Resolvers used by conf/: `t2v.or` (first non-null) and `t2v.wandb_offline`."""
    if not OmegaConf.has_resolver("t2v.or"):
        OmegaConf.register_new_resolver(
            "t2v.or", lambda *values: next((v for v in values if v is not None), None)
        )
    if not OmegaConf.has_resolver("t2v.wandb_offline"):
        OmegaConf.register_new_resolver(
            "t2v.wandb_offline",
            lambda: (
                os.environ.get("WANDB_MODE", "") != "online" and not os.environ.get("WANDB_API_KEY")
            ),
        )


# --- sweeps and composition --------------------------------------------------------------


def expand_jobs(overrides: list[str], multirun: bool, command: str = "") -> list[list[str]]:
    """The override list of each job, as Hydra's basic sweeper would run them.

    With `-m`, a config's own `hydra.sweeper.params` (e.g. `+experiment=genres`) come first and
    the command line's overrides of the same keys replace them in place, as in Hydra.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(overrides)
        if multirun and command:
            fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
            params = compose(command, fixed).hydra.sweeper.get("params") or {}
            lines = [f"{key}={value}" for key, value in params.items()]
            parsed = parser.parse_overrides(lines) + parsed
    except HydraException as error:
        raise ConfigError(one_line(str(error))) from None
    choices: dict[str, list[str]] = {}  # keyed by the override's key: later ones win, in place
    for override in parsed:
        key = override.get_key_element()
        if override.is_sweep_override():
            if not multirun:
                raise ConfigError(
                    f"{override.input_line} gives several values: add -m to sweep them, "
                    "or write a list as key=[a,b]"
                )
            choices[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        else:
            choices[key] = [override.input_line]
    count = 1
    for options in choices.values():
        count *= len(options)
    if count > MAX_SWEEP_JOBS:
        raise ConfigError(f"the sweep has {count} jobs; at most {MAX_SWEEP_JOBS} are allowed")
    return [list(job) for job in itertools.product(*choices.values())]


def compose(name: str, overrides: list[str]) -> DictConfig:
    """Compose one job's config (hydra node included) or raise one clear ConfigError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(CONFIG_MODULE, version_base=None, job_name=name):
            return hydra_compose(name, overrides=overrides, return_hydra_config=True)
    except MissingConfigException as error:
        raise ConfigError(missing_option_message(error)) from None
    except (HydraException, OmegaConfBaseException, ValueError) as error:
        # ValueError: Hydra's defaults list refuses a config group given a non-string value
        # (`resolution=64`) with a bare ValueError.
        cause = error.__cause__
        text = str(error) or (f"{type(cause).__name__}: {cause}" if cause else type(error).__name__)
        raise ConfigError(unknown_key_message(text)) from None
    finally:
        GlobalHydra.instance().clear()


def missing_option_message(error: Any) -> str:
    missing = str(error.missing_cfg_file or "")
    group, _, option = missing.rpartition("/")
    options = sorted(error.options or [])
    if group and options:
        close = difflib.get_close_matches(option, options, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown {group} '{option}'{hint}; choose one of: {', '.join(options)}"
    return one_line(str(error))


def unknown_key_message(text: str) -> str:
    line = one_line(text)
    if "not in struct" in text or "Could not override" in text or "Key '" in text:
        key = text.split("'")[1] if "'" in text else "?"
        return f"unknown option '{key}'; to add a new key write +{key}=VALUE"
    return line


def job_run_dir(cfg: DictConfig, number: int, multirun: bool) -> Path | None:
    """Where Hydra will put this job, without running it; None where it is not known here."""
    try:
        if multirun:
            return Path(cfg.hydra.sweep.dir) / str(number)
        return Path(cfg.hydra.run.dir)
    except Exception:  # a launcher's own interpolation: checked again in the job itself
        return None


def one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else "invalid configuration"
