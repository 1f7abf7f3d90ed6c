"""The `t2v` command: one Hydra composition root per subcommand, checked before anything runs.

`t2v SUB [hydra args]` first composes every job of the invocation with Hydra's compose API and
validates it (bad input: one line on stderr, exit 2, nothing written), then hands the same
arguments to `hydra.main`, so sweeps, launchers and every Hydra flag behave as usual.
"""

from __future__ import annotations

import difflib
import importlib
import itertools
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from t2v.errors import ConfigError, NotLandedError, T2VError

CONFIG_MODULE = "t2v.conf"
# Hydra flags that print something instead of running a job: no validation for them.
INFO_FLAGS = frozenset(
    {"-h", "--help", "--hydra-help", "-c", "--cfg", "-i", "--info", "-sc", "--shell-completion"}
)
MAX_SWEEP_JOBS = 10_000


@dataclass(frozen=True)
class Command:
    summary: str
    module: str  # module with `run(cfg: DictConfig) -> None`
    issue: int  # where its machinery is built, named while it has not landed


COMMANDS: dict[str, Command] = {
    "generate": Command(
        "optimise a 4D scene from a prompt and a genre, render it to video.mp4",
        "t2v.commands.generate",
        6,
    ),
    "render": Command(
        "re-render a finished run at any trajectory, length, size and fps",
        "t2v.commands.render",
        6,
    ),
    "evaluate": Command(
        "score finished runs (CLIP R-precision, consistency, motion) into metrics.json",
        "t2v.commands.evaluate",
        7,
    ),
    "pretrain": Command(
        "pre-train a video diffusion prior and its SR prior on video-text data",
        "t2v.commands.pretrain",
        5,
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
        if not INFO_FLAGS.intersection(rest):
            check_invocation(name, rest)
            run_module(name)  # a command that has not landed says so before Hydra writes
    except T2VError as error:
        print(f"t2v {name}: {error}", file=sys.stderr)
        return error.exit_code
    return run_hydra(name, rest)


def run_hydra(name: str, rest: list[str]) -> int:
    import hydra

    def task(cfg: DictConfig) -> None:
        try:
            run_module(name)(cfg)
        except T2VError as error:
            print(f"t2v {name}: {error}", file=sys.stderr)
            raise SystemExit(error.exit_code) from None

    sys.argv = [f"t2v-{name}", *rest]
    hydra.main(version_base=None, config_path=f"pkg://{CONFIG_MODULE}", config_name=name)(task)()
    return 0


def run_module(name: str):  # -> Callable[[DictConfig], None]
    command = COMMANDS[name]
    try:
        module = importlib.import_module(command.module)
    except ModuleNotFoundError as error:
        if error.name != command.module:
            raise
        raise NotLandedError(
            f"not available yet: its machinery lands with issue #{command.issue}"
        ) from None
    return module.run


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


# --- validation of an invocation, before Hydra runs ------------------------------------


def check_invocation(name: str, rest: list[str]) -> None:
    """Compose and validate every job `t2v NAME REST` would run; raise T2VError on the first bad."""
    from hydra._internal.utils import get_args_parser

    try:
        parsed, unknown = get_args_parser().parse_known_args(rest)
    except SystemExit:
        raise ConfigError(f"cannot read the arguments {' '.join(rest)!r}") from None
    if unknown:
        raise ConfigError(f"unknown flag(s) {' '.join(unknown)}; see `t2v {name} --help`")
    jobs = expand_jobs(parsed.overrides, multirun=parsed.multirun, command=name)
    if parsed.config_dir:
        extra = Path(parsed.config_dir).expanduser().resolve()
        if not extra.is_dir():
            raise ConfigError(f"--config-dir {parsed.config_dir} is not a directory")
        jobs = [[*job, f"hydra.searchpath=[file://{extra}]"] for job in jobs]
    from t2v.validate import VALIDATORS

    for number, overrides in enumerate(jobs):
        cfg = compose(name, overrides)
        run_dir = job_run_dir(cfg, number, multirun=parsed.multirun)
        OmegaConf.set_struct(cfg, False)
        cfg.pop("hydra", None)
        try:
            VALIDATORS[name](cfg, run_dir)
        except T2VError as error:
            prefix = f"job {number} ({' '.join(overrides)}): " if len(jobs) > 1 else ""
            raise type(error)(f"{prefix}{error}") from None


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
    except (HydraException, OmegaConfBaseException) as error:
        cause = error.__cause__
        text = str(error) or (f"{type(cause).__name__}: {cause}" if cause else type(error).__name__)
        raise ConfigError(unknown_key_message(text)) from None
    finally:
        GlobalHydra.instance().clear()


def missing_option_message(error) -> str:
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
