"""The ``kchaos`` command line: typer commands that call the package and print with rich.

Every KchaosError becomes one red line and its exit code (2 for bad input); only
``--debug`` shows a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from kchaos import install as installer
from kchaos.errors import BadInput, KchaosError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Kafka's architecture questions, answered by a real cluster."
)
fault_app = typer.Typer(no_args_is_help=True, help="Inject or heal one fault on the running cluster (live demos).")
app.add_typer(fault_app, name="fault")
images_app = typer.Typer(no_args_is_help=True, help="Docker images for --backend docker.")
app.add_typer(images_app, name="images")
console = Console()
err_console = Console(stderr=True)
DEBUG = {"on": False}

ClusterOpt = Annotated[str, typer.Option("--cluster", help="Name of the cluster (several can run at once).")]


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    """kchaos: bring up a real Kafka cluster, break it, check what it did."""
    DEBUG["on"] = debug


def say_error(text: object) -> None:
    """One error line on stderr: text from files and arguments is shown, never obeyed
    (rich markup such as ``[/x]`` escaped, terminal control sequences made visible)."""
    from rich.markup import escape

    from kchaos.safety import printable

    err_console.print(f"[red]error:[/red] {escape(printable(str(text)))}", highlight=False, soft_wrap=True)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn KchaosError into one line on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KchaosError as err:
            if DEBUG["on"]:
                raise
            say_error(err)
            raise typer.Exit(err.exit_code) from None

    return wrapper


@app.command()
@friendly
def install(
    kafka_version: Annotated[str, typer.Option(help="Kafka version (3.9 or newer).")] = installer.DEFAULT_KAFKA_VERSION,
    archive: Annotated[
        Optional[Path], typer.Option(help="An official kafka_2.13-X.tgz to use instead of Maven.")
    ] = None,
    sha512: Annotated[Optional[str], typer.Option(help="The archive's SHA-512 (else read from X.tgz.sha512).")] = None,
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="auto (Maven and Go when both are here, else the release files), build (Maven and Go) "
            "or release (official archives, checksums verified).",
        ),
    ] = "auto",
) -> None:
    """Put a pinned Kafka and a pinned Toxiproxy server into ~/.cache/kchaos."""
    from kchaos import release

    if source not in ("auto", "build", "release"):
        raise BadInput(f"--from={source}: choose auto, build or release")
    use_release = source == "release" or (source == "auto" and not release.toolchain_present())
    if archive:
        console.print(installer.install_kafka_from_archive(archive, sha512))
    elif use_release:
        console.print(release.install_kafka(kafka_version))
    else:
        console.print(installer.install_kafka_from_maven(kafka_version))
    console.print(release.install_toxiproxy() if use_release else installer.install_toxiproxy())


@images_app.command("build")
@friendly
def images_build(
    offline: Annotated[
        bool, typer.Option("--offline", help="Build from the host's apt sources and kchaos install's cache.")
    ] = False,
    kafka_version: Annotated[str, typer.Option()] = installer.DEFAULT_KAFKA_VERSION,
    rebuild: Annotated[bool, typer.Option(help="Build again even when the images exist.")] = False,
) -> None:
    """Build kchaos/kafka and kchaos/toxiproxy images with no registry (needs kchaos install)."""
    from kchaos.cluster.docker import images

    if not offline:
        raise BadInput("only offline builds exist; pass --offline (or docker pull the official images)")
    for line in images.build_offline(kafka_version, rebuild, say=console.print):
        console.print(line)


@app.command()
@friendly
def compose(
    out: Annotated[Path, typer.Option(help="Folder to write (one sub-folder per topology).")] = Path("compose"),
) -> None:
    """Write compose files of the docker topology (3 combined; 3 + 3 dedicated controllers)."""
    from kchaos.cluster.docker import compose as composer

    files = composer.write(out)
    console.print(f"wrote {len(files)} files under {out}/ (use: docker compose -f {out}/combined/compose.yaml up)")


def _spec(
    brokers: int, controllers: str, kafka_version: str, base_port: int, cluster: str, configs: list[str] | None = None
):
    from kchaos.cluster.spec import ClusterSpec

    broker_config = {}
    for item in configs or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise BadInput(f"--config {item!r}: write KEY=VALUE")
        broker_config[key.strip()] = value.strip()
    return ClusterSpec(
        brokers=brokers,
        controllers=controllers,
        kafka_version=kafka_version,  # type: ignore[arg-type]
        base_port=base_port,
        name=cluster,
        broker_config=broker_config,
    )


@app.command()
@friendly
def up(
    brokers: Annotated[int, typer.Option(help="Number of brokers.")] = 3,
    controllers: Annotated[str, typer.Option(help="combined or dedicated (3 extra controller nodes).")] = "combined",
    backend: Annotated[
        str, typer.Option(help="auto (docker when a daemon and the images are here, else local), local or docker.")
    ] = "auto",
    kafka_version: Annotated[str, typer.Option()] = installer.DEFAULT_KAFKA_VERSION,
    kafka_image: Annotated[
        Optional[str], typer.Option(help="docker: Kafka image (default apache/kafka:VERSION).")
    ] = None,
    toxiproxy_image: Annotated[Optional[str], typer.Option(help="docker: Toxiproxy image.")] = None,
    base_port: Annotated[int, typer.Option(help="First port of the block of ports the cluster uses.")] = 29000,
    config: Annotated[
        Optional[list[str]], typer.Option("--config", help="Broker config KEY=VALUE (repeatable).")
    ] = None,
    cluster: ClusterOpt = "default",
) -> None:
    """Start a KRaft cluster behind Toxiproxy and wait until it takes acks=all writes."""
    from kchaos.cluster import choose_backend, make

    chosen, why = choose_backend(backend, kafka_version)
    if backend == "auto":
        console.print(why)
    spec = _spec(brokers, controllers, kafka_version, base_port, cluster, config)
    c = make(spec, chosen, kafka_image, toxiproxy_image)
    with console.status(f"starting {spec.brokers} brokers ({spec.controllers} controllers)…"):
        seconds = c.up()
    _print_nodes(c)
    console.print(f"writable with acks=all after [bold]{seconds:.1f} s[/bold]; bootstrap: [bold]{c.bootstrap}[/bold]")


def _print_nodes(c) -> None:
    from kchaos.cluster.inspect import status as cluster_status

    st = cluster_status(c, with_topics=False)
    table = Table(title=f"cluster '{c.name}' ({c.backend})")
    for col in ("node", "role", "state", "pid", "client", "replication", "controller", "data dir"):
        table.add_column(col)
    for b in st["brokers"]:
        table.add_row(
            str(b["id"]) + (" *" if b["controller"] else ""),
            b["roles"],
            b["state"],
            str(b["pid"]),
            str(b["client_port"] or "-"),
            str(b["replication_port"] or "-"),
            str(b["controller_port"] or "-"),
            b["data_dir"],
        )
    console.print(table)


@app.command()
@friendly
def down(
    keep_data: Annotated[bool, typer.Option(help="Keep the data dirs.")] = False,
    all_clusters: Annotated[bool, typer.Option("--all", help="Every kchaos cluster on this machine.")] = False,
    cluster: ClusterOpt = "default",
) -> None:
    """Stop everything kchaos started (also leftovers of a crashed run)."""
    from kchaos import procs, safety
    from kchaos.cluster import state as statefile
    from kchaos.cluster import teardown
    from kchaos.cluster.docker import owned_names

    names = [safety.cluster_name(cluster)]
    skipped: list[str] = []
    if all_clusters:  # names from marks and labels anyone can set: only valid names are used
        marked = {procs.marked_by(p) or "" for p in procs.find_marked()}
        found = (set(statefile.known_clusters()) | marked | set(owned_names())) - {""}
        names = sorted(n for n in found if safety.is_cluster_name(n))
        skipped = sorted(safety.printable(repr(n)) for n in found if not safety.is_cluster_name(n))
    done = [line for name in names for line in teardown(name, keep_data)]
    done += [f"left alone {n}: not a cluster name kchaos gives" for n in skipped]
    console.print("\n".join(done) if done else "nothing to stop")


@app.command()
@friendly
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    cluster: ClusterOpt = "default",
) -> None:
    """Brokers up/down/paused/isolated, the active controller, leaders and ISRs."""
    from kchaos.cluster import attach
    from kchaos.cluster.inspect import status as cluster_status

    st = cluster_status(attach(cluster))
    if as_json:
        print(json.dumps(st))
        return
    table = Table(title=f"brokers (bootstrap {st['bootstrap']})")
    for col in ("node", "roles", "state", "controller", "pid"):
        table.add_column(col)
    for b in st["brokers"]:
        table.add_row(str(b["id"]), b["roles"], b["state"], "yes" if b["controller"] else "", str(b["pid"]))
    console.print(table)
    topics = Table(title="partitions")
    for col in ("topic", "partition", "leader", "replicas", "isr"):
        topics.add_column(col)
    for topic, parts in st["topics"].items():
        for p in parts:
            topics.add_row(topic, str(p["partition"]), str(p["leader"]), str(p["replicas"]), str(p["isr"]))
    console.print(topics)


TargetArg = Annotated[
    str,
    typer.Argument(
        help="A node id, leader-of:TOPIC:P, follower-of:TOPIC:P[:N], controller, random, "
        "coordinator:TRANSACTIONAL_ID or group-coordinator-of:GROUP."
    ),
]


def _fault_command(act: Any) -> Callable[..., None]:
    """A ``kchaos fault`` command made from one row of the fault table: its target(s), an
    option per argument (same names and defaults as in experiment files), ``--cluster``."""
    import inspect

    def command(**given: Any) -> None:
        from kchaos.cluster import attach
        from kchaos.cluster.inspect import resolve_target
        from kchaos.faults import actions

        c = attach(given.pop("cluster"))
        node = resolve_target(c, given.pop("target")) if act.target in ("node", "pair") else None
        to = resolve_target(c, given.pop("to")) if act.target == "pair" else None
        try:
            args = act.bind(given)
        except ValueError as err:
            raise BadInput(str(err)) from None
        label = actions.apply(c, act, node, to, args)
        shown = " ".join(f"{k}={v}" for k, v in given.items() if v != next(a.default for a in act.args if a.name == k))
        console.print(f"{act.name} {label}" + (f" ({shown})" if shown else ""))

    params = []
    if act.target in ("node", "pair"):
        params.append(inspect.Parameter("target", inspect.Parameter.KEYWORD_ONLY, annotation=TargetArg))
    if act.target == "pair":
        to_help = typer.Argument(help="The other end of the link (same forms as TARGET).")
        params.append(inspect.Parameter("to", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[str, to_help]))
    for a in act.args:
        kind = str if a.type is list else a.type
        default = ",".join(a.default) if a.type is list else a.default
        flag = "--" + a.name.replace("_", "-")
        option = (
            typer.Option(flag, help=a.help)
            if a.type is not bool
            else typer.Option(f"{flag}/--no-{flag[2:]}", help=a.help)
        )
        params.append(
            inspect.Parameter(
                a.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, option]
            )
        )
    params.append(
        inspect.Parameter("cluster", inspect.Parameter.KEYWORD_ONLY, default="default", annotation=ClusterOpt)
    )
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = act.help
    command.__name__ = act.name.replace("-", "_")
    return friendly(command)


def _register_fault_commands() -> None:
    from kchaos.faults import actions

    for act in actions.cluster_wide():
        fault_app.command(act.name)(_fault_command(act))


_register_fault_commands()


@app.command()
@friendly
def validate(
    experiments_: Annotated[list[str], typer.Argument(metavar="FILE|ID...", help="Experiment files or ids.")],
) -> None:
    """Check experiment files without a cluster: every error one line (exit 2), else the plan."""
    from kchaos import experiment as experiments

    errors, plans = [], []
    for ref in experiments_:
        try:
            exp, found = experiments.check(experiments.find(ref))
        except BadInput as err:  # an unknown id or a missing file
            errors.append(str(err))
            continue
        errors += found
        if exp is not None and not found:
            plans.append(exp)
    for line in errors:
        say_error(line)
    if errors:
        raise typer.Exit(2)
    from kchaos.safety import printable

    for exp in plans:  # the plan quotes the file: shown as text, escapes made visible
        console.print(printable(experiments.plan(exp)), highlight=False, soft_wrap=True, markup=False)


@app.command()
@friendly
def check(
    history: Annotated[Path, typer.Argument(help="A history.jsonl file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    kinds: Annotated[Optional[str], typer.Option(help="Comma-separated anomaly kinds (default all).")] = None,
) -> None:
    """Check a recorded history for anomalies; exit 1 when any selected kind is found."""
    from kchaos.checker import check as run_check
    from kchaos.checker import parse_kinds
    from kchaos.history import load

    selected = parse_kinds(kinds)
    result = run_check(load(history), selected)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        _print_check(result)
    if any(result["anomalies"][k] for k in selected):
        raise typer.Exit(1)


def _print_check(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['events']} events")
    table.add_column("anomaly")
    table.add_column("count", justify="right")
    table.add_column("first example")
    for kind, count in result["anomalies"].items():
        example = json.dumps(result["examples"].get(kind, [None])[0]) if count else ""
        table.add_row(kind, f"[red]{count}[/red]" if count else "0", example[:80])
    console.print(table)
    for f in result["findings"]:
        console.print(f"[bold]finding:[/bold] {f['text']}")
    if result["undrained"]:
        console.print(f"undrained partitions (loss cannot be proven there): {result['undrained']}")
    console.print(f"info: {result['info']}")


@app.command("list")
@friendly
def list_experiments(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """The experiments shipped in experiments/, with the question each answers."""
    from kchaos import experiment as experiments

    rows = []
    for path in experiments.catalog().values():
        exp = experiments.load(path)
        rows.append(
            {
                "number": exp.number,
                "id": exp.id,
                "question": exp.question,
                "file": str(path),
                "cluster": {"brokers": exp.cluster.brokers, "controllers": exp.cluster.controllers},
            }
        )
    rows.sort(key=lambda r: experiments.number_key(r["number"]))
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title="experiments")
    for col in ("#", "id", "question", "brokers"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["number"] or "", r["id"], r["question"], str(r["cluster"]["brokers"]))
    console.print(table)


@app.command("run")
@friendly
def run_command(
    experiment: Annotated[str, typer.Argument(help="An experiment id (kchaos list) or a YAML file.")],
    quick: Annotated[bool, typer.Option("--quick", help="Short phases (tests, demos).")] = False,
    nightly: Annotated[bool, typer.Option("--nightly", help="Long phases, more load.")] = False,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the run's random choices.")] = None,
    backend: Annotated[
        str, typer.Option(help="auto (docker when a daemon and the images are here, else local), local or docker.")
    ] = "auto",
    kafka_image: Annotated[
        Optional[str], typer.Option(help="docker: Kafka image (default apache/kafka:VERSION).")
    ] = None,
    toxiproxy_image: Annotated[Optional[str], typer.Option(help="docker: Toxiproxy image.")] = None,
    report_dir: Annotated[Path, typer.Option(help="Where run directories go.")] = Path("reports"),
    live: Annotated[bool, typer.Option(help="Live terminal view.")] = True,
    cluster: Annotated[Optional[str], typer.Option("--cluster", help="Run on this running cluster.")] = None,
    profile: Annotated[
        Optional[Path], typer.Option(help="Your own settings (YAML): Kafka version, broker and client config.")
    ] = None,
    present: Annotated[bool, typer.Option("--present", help="Full-screen view for a projector (workshops).")] = False,
    step: Annotated[bool, typer.Option("--step", help="With --present: wait for Enter before each phase.")] = False,
    variant: Annotated[
        Optional[list[str]],
        typer.Option("--variant", help="Run only the variants whose names contain this (repeatable)."),
    ] = None,
    schema_registry: Annotated[
        Optional[str],
        typer.Option(help="A schema registry URL (Confluent API) for Avro experiments; default: one on loopback."),
    ] = None,
) -> None:
    """Run one experiment against a real cluster and write its report; exit 0 on PASS, 1 on FAIL."""
    from kchaos import experiment as experiments
    from kchaos import profile as profiles
    from kchaos.live import LiveView
    from kchaos.present import PresentView
    from kchaos.session import execute

    if quick and nightly:
        raise BadInput("choose one of --quick and --nightly")
    if cluster is not None:
        from kchaos.safety import cluster_name

        cluster_name(cluster)  # before it is printed or used
    exp = experiments.load(experiments.find(experiment))  # bad input: one line, exit 2, no cluster touched
    exp = experiments.only_variants(exp, variant or [])
    prof = profiles.load(profile) if profile else None
    if step and not present:
        raise BadInput("--step goes with --present")
    if present and not (console.is_terminal and sys.stdin.isatty()):
        raise BadInput("--present needs a terminal (stdin and stdout)")
    mode = "nightly" if nightly else "quick"
    if schema_registry:
        from kchaos.patterns.schema import connect

        connect(schema_registry)  # an unreachable registry: one line, exit 2, before any cluster
    from kchaos.cluster import choose_backend

    version = (prof.kafka_version if prof else None) or installer.DEFAULT_KAFKA_VERSION
    chosen, why = (backend, "") if cluster else choose_backend(backend, version)
    if backend == "auto" and not cluster:
        console.print(why)
    images = {
        "kafka_image": kafka_image,
        "toxiproxy_image": toxiproxy_image,
        "profile": prof,
        "variants": variant,
        "schema_registry": schema_registry,
    }
    view = PresentView(exp, console, step) if present else (LiveView(console) if live and console.is_terminal else None)
    if view:
        with view:
            result = execute(experiment, mode, seed, chosen, report_dir, [view], cluster_name=cluster, **images)
    else:
        where = f"cluster {cluster}" if cluster else f"{chosen} backend"
        console.print(f"running {experiment} ({mode}, {where})…")
        result = execute(experiment, mode, seed, chosen, report_dir, [], cluster_name=cluster, **images)
    for v in result.variants:
        bad = {k: n for k, n in v.anomalies.items() if n}
        held = sum(e["held"] for e in v.expectations)
        console.print(
            f"  {v.name}: {v.measurements.get('sends_ok')} acked, anomalies {bad or 'none'}, "
            f"expectations {held}/{len(v.expectations)}"
        )
    for v in result.skipped:
        console.print(f"  {v['name']}: not run ({v['why']})", markup=False)
    from kchaos.results import VERDICT_COLORS

    color = VERDICT_COLORS.get(result.verdict, "red")
    note = " (interrupted)" if result.interrupted else (f" ({result.error})" if result.error else "")
    console.print(f"[{color}]{result.verdict}[/{color}]{note} — report: {result.run_dir / 'report.md'}")
    if result.error and not result.variants:
        raise typer.Exit(2)
    raise typer.Exit(0 if result.verdict in ("PASS", "SKIP") else (130 if result.interrupted else 1))


@app.command("book")
@friendly
def book_command(
    report_dir: Annotated[Path, typer.Option(help="The reports folder to gather runs from.")] = Path("reports"),
    out: Annotated[Optional[Path], typer.Option(help="Where the book goes (default: REPORT_DIR/book).")] = None,
    results: Annotated[
        Path, typer.Option(help="bench/repeat.py's saved counts, for each answer's reproducibility line.")
    ] = Path("bench/results"),
) -> None:
    """Gather the newest report of every experiment into the book of thirty answers."""
    from kchaos import summaries
    from kchaos.report.book import write_book

    summaries.check_reports_folder(report_dir)  # malformed runs: one line naming the file
    with summaries.guard(f"--report-dir {report_dir}"):
        readme = write_book(report_dir, out, results)
    console.print(f"wrote {readme}")


@app.command("demo")
@friendly
def demo_command(
    minutes: Annotated[float, typer.Option(help="Length of the talk.")] = 20.0,
) -> None:
    """A running order of experiments for a talk: what to run, how long it takes, what it shows."""
    from rich.table import Table

    from kchaos.demo import running_order

    if not 1 <= minutes <= 600:  # also NaN: a talk of -5 or inf minutes is a typo
        raise BadInput(f"--minutes={minutes}: a talk of 1 to 600 minutes")
    order = running_order(minutes)
    table = Table(title=f"a {minutes:g}-minute running order")
    for col in ("#", "minutes", "run", "what it shows"):
        table.add_column(col)
    for i, slot in enumerate(order, 1):
        table.add_row(str(i), f"{slot.minutes:g}", slot.command, slot.say)
    console.print(table)
    console.print(f"total: {sum(s.minutes for s in order):.1f} min (runs and talking); Enter advances each phase")


@app.command("report")
@friendly
def report_command(
    compare: Annotated[
        Optional[tuple[Path, Path]], typer.Option(help="Two run or suite folders to put side by side.")
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Where the comparison goes (default: next to A).")] = None,
    report_dir: Annotated[Path, typer.Option(help="The reports folder whose index.md is rebuilt.")] = Path("reports"),
) -> None:
    """Rebuild reports/index.md, or with --compare A B write a side-by-side comparison."""
    from kchaos import summaries
    from kchaos.report.compare import compare as side_by_side
    from kchaos.report.writer import update_index

    if compare is None:
        if not report_dir.is_dir():
            raise BadInput(f"--report-dir {report_dir}: not a folder of reports")
        with summaries.guard(f"--report-dir {report_dir}"):
            update_index(report_dir)
        console.print(f"rebuilt {report_dir / 'index.md'}")
        return
    a, b = compare
    for folder in (a, b):  # every summary and suite link checked before the report reads them
        summaries.check_run_folder(folder)
    target = out or a.parent / f"compare-{a.name}-vs-{b.name}.md"
    if target.is_dir() or not target.parent.is_dir():
        raise BadInput(f"--out {target}: give a file in an existing folder")
    with summaries.guard(f"--compare {a} {b}"):
        target.write_text(side_by_side(a, b))
    console.print(f"wrote {target}")


def _ids(text: str | None) -> list[str] | None:
    return [i.strip() for i in text.split(",") if i.strip()] if text else None


@app.command("suite")
@friendly
def suite_command(
    quick: Annotated[bool, typer.Option("--quick", help="Short phases (the default).")] = False,
    nightly: Annotated[bool, typer.Option("--nightly", help="Long phases, nightly-only variants too.")] = False,
    only: Annotated[Optional[str], typer.Option(help="Comma-separated experiment ids to run.")] = None,
    skip: Annotated[Optional[str], typer.Option(help="Comma-separated experiment ids to leave out.")] = None,
    budget: Annotated[
        Optional[float], typer.Option(help="Minutes; stop before an experiment that would not fit.")
    ] = None,
    junit: Annotated[Optional[Path], typer.Option(help="Also write the JUnit XML here.")] = None,
    profile: Annotated[
        Optional[Path], typer.Option(help="Your own settings (YAML): Kafka version, broker and client config.")
    ] = None,
    backend: Annotated[
        str, typer.Option(help="auto (docker when a daemon and the images are here, else local), local or docker.")
    ] = "auto",
    report_dir: Annotated[Path, typer.Option(help="Where the suite's folder goes.")] = Path("reports"),
    live: Annotated[bool, typer.Option(help="Live terminal view.")] = True,
) -> None:
    """Every experiment, one cluster per shape: reports, a summary and JUnit XML; exit 0 only when all pass."""
    import shutil

    from kchaos import profile as profiles
    from kchaos.cluster import choose_backend
    from kchaos.live import SuiteView
    from kchaos.suite import run_suite, select

    if quick and nightly:
        raise BadInput("choose one of --quick and --nightly")
    ids = select(_ids(only), _ids(skip))  # unknown ids: one line, exit 2, before any cluster
    prof = profiles.load(profile) if profile else None
    chosen, why = choose_backend(backend, (prof.kafka_version if prof else None) or installer.DEFAULT_KAFKA_VERSION)
    console.print(f"{why}; {len(ids)} experiments")
    mode = "nightly" if nightly else "quick"
    args = {"only": ids, "budget_minutes": budget, "profile": prof, "backend": chosen, "report_dir": report_dir}
    if live and console.is_terminal:
        with SuiteView(console) as view:
            result = run_suite(mode, progress=view, observers=[view], **args)
    else:
        result = run_suite(mode, progress=_SuiteLines(), **args)
    if junit:
        junit.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(result.suite_dir / "junit.xml", junit)
    from kchaos.results import VERDICT_COLORS

    for e in result.entries:
        color = VERDICT_COLORS.get(e.verdict, "red")
        console.print(f"  [{color}]{e.verdict}[/{color}] {e.experiment} {e.seconds:.0f} s {e.why_not_run}")
    verdict = "PASS" if result.passed else "FAIL"
    console.print(f"{verdict} in {result.seconds / 60:.1f} min — summary: {result.suite_dir / 'summary.md'}")
    raise typer.Exit(0 if result.passed else (130 if result.interrupted else 1))


class _SuiteLines:
    """Progress as plain lines (no terminal, CI logs)."""

    def experiment_started(self, index: int, total: int, exp_id: str) -> None:
        console.print(f"[{index}/{total}] {exp_id}…")

    def experiment_finished(self, index: int, total: int, entry: Any) -> None:
        console.print(f"[{index}/{total}] {entry.experiment}: {entry.verdict} ({entry.seconds:.0f} s)")


def run() -> None:
    """Entry point of the console script."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
