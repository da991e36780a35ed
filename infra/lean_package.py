"""The lean Lambda package: Chalice's deployment.zip cut down to what the gateway's functions run (issue 11,
acceptance 3: ≤ 60 MB unzipped, "no dev stack, tests, or transitive packages nothing imports").

`make package` runs this after `chalice package`: `python infra/lean_package.py build/package` rewrites
`build/package/deployment.zip` in place, writes a smaller zip of its own for each function in `FUNCTION_CUTS`
(pointing that function's CodeUri in sam.yaml at it), and prints the unzipped size per function.

Chalice vendors every wheel whole; what a wheel carries beside the code that runs (C and Cython sources, type
stubs, tests, every AWS service's model, optional accelerators and subpackages nothing imports) is dropped here;
every shared object is stripped of its symbol tables (`strip --strip-unneeded`: the dynamic symbols the loader
needs stay), and every module is shipped compiled (`_compiled`): Lambda's /var/task is read-only, so a zip of
sources is compiled again on every cold start (docs/deployment.md#bytecode).

Every exclusion is in `EXCLUSIONS`, with its reason; docs/deployment.md shows the same table. What holds is proved
by tests/integration/test_package_contents.py: the lean package, unzipped, runs every path of every function in
an interpreter that sees only the package and the standard library (tests/integration/package_probe.py), and an
exclusion that removes something a path needs makes it fail.

Why boto3 and botocore stay bundled (and pinned by the wheel Chalice resolves) rather than taken from the Lambda
runtime: the runtime's copy is whatever AWS last put in the image (often months behind, changing under a deployed
function without a deploy), and the tests and the embedded stack run the bundled version; pruning botocore's data
to the six services the gateway calls keeps that guarantee for about 2 MB instead of 21 MB.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BOTOCORE_SERVICES", "EXCLUSIONS", "FUNCTION_CUTS", "Exclusion", "FunctionCut", "LIMIT_BYTES", "excluded",
           "exclusion_table", "functions", "lean_zip", "main", "point_functions_at", "size_table", "unzipped_bytes"]

#: Issue 11, acceptance 3: the package, unzipped, at most 60 MB.
LIMIT_BYTES = 60 * 1000 * 1000
#: The services the gateway creates clients for (`aws.client(...)` / `aws.table(...)` in chalicelib.adapters).
BOTOCORE_SERVICES = ("s3", "sqs", "dynamodb", "kms", "secretsmanager", "cognito-idp")
SHARED_OBJECT = re.compile(r"\.so(\.\d+)*$")


@dataclass(frozen=True)
class Exclusion:
    """Entries whose name matches one of `patterns` (fnmatch: `*` crosses `/`) and none of `keep` are dropped."""

    patterns: tuple[str, ...]
    reason: str
    keep: tuple[str, ...] = ()

    def matches(self, name: str) -> bool:
        return (any(fnmatch.fnmatchcase(name, p) for p in self.patterns)
                and not any(fnmatch.fnmatchcase(name, k) for k in self.keep))


EXCLUSIONS: tuple[Exclusion, ...] = (
    Exclusion(("*/__pycache__/*", "*.pyc"),
              "bytecode caches from wheels or the packaging machine; the packager compiles its own (`_compiled`)"),
    Exclusion(("*.c", "*.h", "*.pyx", "*.pxd", "*.pxi", "lxml/includes/*"),
              "C and Cython sources and headers shipped beside the compiled modules; nothing reads them at run time"),
    Exclusion(("*.pyi", "*/py.typed"), "type stubs and markers, for type checkers only"),
    Exclusion(("*/tests/*", "*/testing/*"), "the wheels' own test suites"),
    Exclusion(("*.dist-info/RECORD",), "pip's install manifest (uninstall only); METADATA stays (importlib.metadata)"),
    Exclusion(("botocore/data/*/*",),
              "AWS service models: only the services the gateway calls (BOTOCORE_SERVICES) are ever loaded",
              keep=tuple(f"botocore/data/{s}/*" for s in BOTOCORE_SERVICES)),
    Exclusion(("botocore/data/*/*/examples-1.json",), "request examples for documentation, never loaded by clients"),
    Exclusion(("boto3/data/*", "boto3/examples/*"),
              "boto3 resource models and docs: the gateway uses only the DynamoDB Table resource",
              keep=("boto3/data/dynamodb/*",)),
    Exclusion((*(f"fontTools/{sub}/*" for sub in ("cu2qu", "qu2cu", "ufoLib", "voltLib", "mtiLib", "merge", "svgLib",
                                                  "t1Lib", "diff", "varLib/instancer")),
               "fontTools/pens/momentsPen*", "fontTools/feaLib/lexer.*.so"),
              "fontTools parts the stamp's subsetting never imports (curve conversion, UFO, VOLT, MTI, merging, "
              "Type 1, instancing) and optional accelerators it never loads (the pure-Python modules stay)"),
    Exclusion(("fontTools/ttx.py", "fontTools/fontBuilder.py", "fontTools/afmLib.py", "fontTools/tfmLib.py",
               "fontTools/help.py", "fontTools/__main__.py"), "fontTools command-line tools and builders"),
    Exclusion(("lxml/objectify*", "lxml/html/*", "lxml/isoschematron/*"),
              "lxml parts pyHanko's XMP metadata (lxml.etree) never imports"),
    Exclusion(tuple(f"aws_lambda_powertools/{sub}/*" for sub in (
        "event_handler", "utilities/idempotency", "utilities/feature_flags", "utilities/parameters",
        "utilities/streaming", "utilities/validation", "utilities/data_masking", "utilities/kafka",
        "utilities/auth_alpha", "utilities/circuit_breaker", "utilities/metadata")),
              "powertools utilities the gateway does not use (it uses Logger and the SQS batch processor; Chalice "
              "serves the API)"),
    Exclusion(("oscrypto/*",),
              "imported only for the operating system's trust list (pyhanko_certvalidator), which the gateway never "
              "uses: every ValidationContext gets the configured roots"),
    Exclusion(("cffi/*", "pycparser/*"),
              "cffi's build-time half (only oscrypto would use it); the compiled _cffi_backend stays"),
)


def excluded(name: str) -> str | None:
    """The reason `name` (a zip entry) is left out of the lean package, or None when it stays."""
    for rule in EXCLUSIONS:
        if rule.matches(name):
            return rule.reason
    return None


#: Packages (with their dist-info) by what uses them, for the per-function cuts below.
STAMP_FONT = ("fontTools/*", "fonttools-*", "uharfbuzz/*", "uharfbuzz-*")
XLSX = ("openpyxl/*", "openpyxl-*", "et_xmlfile/*", "et_xmlfile-*")
PKCS11 = ("pkcs11/*", "python_pkcs11-*")
PAGE_TEXT = ("pypdf/*", "pypdf-*")
PDF_SIGNATURES = ("pyhanko/*", "pyhanko-*", "pyhanko_certvalidator/*", "pyhanko_certvalidator-*", "lxml/*", "lxml-*",
                  "tzlocal/*", "tzlocal-*", "uritools/*", "uritools-*", "aiohttp/*", "aiohttp-*", "aiosignal/*",
                  "aiosignal-*", "aiohappyeyeballs/*", "aiohappyeyeballs-*", "frozenlist/*", "frozenlist-*",
                  "multidict/*", "multidict-*", "yarl/*", "yarl-*", "propcache/*", "propcache-*")


@dataclass(frozen=True)
class FunctionCut:
    """A function's own package: the lean package without `exclusion` (what none of its handlers can load)."""

    function: str  # the SAM logical id (Chalice's name for the handler: sign_document → SignDocument)
    exclusion: Exclusion


#: Chalice gives every function the same zip; a function whose handlers cannot reach a heavy package (app.py's
#: handler, the chalicelib modules it imports, counting imports inside functions: tests/integration/
#: test_package_contents.py proves each cut by running the function's paths on its own package) gets its own
#: smaller zip. SignDocument and SweepDocuments keep deployment.zip (the sweep reaches chalicelib.outbound.
#: sign_upload, whose signing imports need the stamp font).
FUNCTION_CUTS: tuple[FunctionCut, ...] = (
    FunctionCut("APIHandler", Exclusion(STAMP_FONT, "APIHandler: no route draws a stamp (fontTools, HarfBuzz)")),
    FunctionCut("PollAxis", Exclusion(STAMP_FONT + XLSX + PKCS11 + PAGE_TEXT,
                                      "PollAxis: verifies inbound signatures, never signs, writes reports or reads "
                                      "page text")),
    FunctionCut("SyncAgencies", Exclusion(STAMP_FONT + XLSX + PKCS11 + PAGE_TEXT,
                                          "SyncAgencies: the agency registry, never signs, writes reports or reads "
                                          "page text")),
    FunctionCut("DispatchDocument", Exclusion(STAMP_FONT + XLSX + PKCS11 + PDF_SIGNATURES + PAGE_TEXT,
                                              "DispatchDocument: packs signed files as they are, never opens a PDF "
                                              "(pyHanko and its HTTP and XML stacks, pypdf)")),
)


def _strip(data: bytes, workdir: Path) -> bytes:
    """A shared object without its symbol tables and debug sections (what the dynamic loader needs stays)."""
    path = workdir / "object.so"
    path.write_bytes(data)
    subprocess.run(["strip", "--strip-unneeded", str(path)], check=True, capture_output=True)
    return path.read_bytes()


def _compiled(name: str, data: bytes, workdir: Path) -> list[tuple[str, bytes]]:
    """What a `.py` entry becomes: the gateway's own (app.py, chalicelib/) keeps its source beside its bytecode in
    `__pycache__` (its tracebacks stay readable); a third-party module becomes its bytecode alone, `name.pyc` in
    place of `name.py` (Python's sourceless import). Unchecked-hash pycs: Python never compares them with a source
    (Lambda's /var/task is read-only, so the only bytecode a cold start can use is what the zip carries)."""
    import importlib.util
    import py_compile

    source, cfile = workdir / "module.py", workdir / "module.pyc"
    source.write_bytes(data)
    try:
        py_compile.compile(str(source), cfile=str(cfile), dfile=f"/var/task/{name}", doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError:
        return [(name, data)]  # not Python 3.11 (a template, a Python 2 leftover): left as it is
    if name == "app.py" or name.startswith("chalicelib/"):
        return [(name, data), (importlib.util.cache_from_source(name), cfile.read_bytes())]
    return [(name[:-3] + ".pyc", cfile.read_bytes())]


def lean_zip(src: Path, dst: Path, *, rules: tuple[Exclusion, ...] = EXCLUSIONS, strip: bool = True,
             compile_pyc: bool = False) -> dict[str, int]:
    """Write a copy of the zip `src` to `dst` without the entries `rules` exclude, shared objects stripped and
    Python compiled (`_compiled`) if asked; answers the bytes dropped per reason, `"bytecode"` (the .pyc bytes
    added), `"sources"` (the third-party .py bytes they replace) and `"unzipped"`."""
    if strip and shutil.which("strip") is None:
        raise SystemExit("lean_package: `strip` (Debian binutils) is missing: run .ci/install-system-packages")
    dropped: dict[str, int] = {}
    unzipped = bytecode = sources = 0
    stripped_reason = "symbol tables of shared objects (strip --strip-unneeded)"
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(src) as zin, \
            zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for info in sorted(zin.infolist(), key=lambda i: i.filename):
            reason = next((rule.reason for rule in rules if rule.matches(info.filename)), None)
            if reason is not None:
                dropped[reason] = dropped.get(reason, 0) + info.file_size
                continue
            data = zin.read(info)
            if strip and SHARED_OBJECT.search(info.filename):
                smaller = _strip(data, Path(tmp))
                dropped[stripped_reason] = dropped.get(stripped_reason, 0) + len(data) - len(smaller)
                data = smaller
            entries = [(info.filename, data)]
            if compile_pyc and info.filename.endswith(".py"):
                entries = _compiled(info.filename, data, Path(tmp))
                bytecode += sum(len(body) for name, body in entries if name.endswith(".pyc"))
                sources += 0 if any(name == info.filename for name, _ in entries) else len(data)
            for name, body in entries:
                out = zipfile.ZipInfo(name, date_time=info.date_time)
                out.external_attr, out.compress_type = info.external_attr, zipfile.ZIP_DEFLATED
                zout.writestr(out, body)
                unzipped += len(body)
    return {**dropped, "bytecode": bytecode, "sources": sources, "unzipped": unzipped}


def check_runtime(template: Path) -> None:
    """Bytecode is per Python minor version: the packager's interpreter must be the functions' runtime."""
    wanted = f"python{sys.version_info.major}.{sys.version_info.minor}"
    runtimes = set(re.findall(r"^\s+Runtime: (\S+)$", template.read_text(encoding="utf-8"), re.MULTILINE))
    if runtimes != {wanted}:
        raise SystemExit(f"lean_package: the functions run {sorted(runtimes)}, this is {wanted}: the bytecode would "
                         "not load (run with that Python, or --no-pyc)")


def functions(template: Path) -> list[tuple[str, str, str]]:
    """(logical id, handler, CodeUri) of every function in the SAM template, read without a YAML round trip (the
    merge template's short-form tags stay as they are)."""
    import yaml  # the venv's PyYAML (Chalice's own dependency); the tool runs at build time only

    class Loader(yaml.SafeLoader):
        pass

    def any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        return loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else {}

    Loader.add_multi_constructor("!", any_tag)
    resources = yaml.load(template.read_text(encoding="utf-8"), Loader)["Resources"]  # noqa: S506 - SafeLoader
    return [(name, res["Properties"].get("Handler", ""), str(res["Properties"]["CodeUri"]))
            for name, res in sorted(resources.items()) if res.get("Type") == "AWS::Serverless::Function"]


def unzipped_bytes(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return sum(i.file_size for i in zf.infolist())


def size_table(package_dir: Path) -> str:
    """The per-function table `make package` prints: each function's zip, zipped and unzipped."""
    rows = ["| function | handler | package | zipped MB | unzipped MB |", "|---|---|---|---|---|"]
    for name, handler, uri in functions(package_dir / "sam.yaml"):
        path = package_dir / uri
        rows.append(f"| {name} | {handler} | {path.name} | {path.stat().st_size / 1e6:.1f} | "
                    f"{unzipped_bytes(path) / 1e6:.1f} |")
    return "\n".join(rows)


def point_functions_at(template: Path, zips: dict[str, str]) -> None:
    """Set each function's CodeUri in the SAM template to its own zip (`zips`: logical id → file name), editing
    the one line, so the rest of Chalice's output stays byte for byte."""
    lines = template.read_text(encoding="utf-8").splitlines(keepends=True)
    current = ""
    for i, line in enumerate(lines):
        if re.fullmatch(r"  [A-Za-z0-9]+:\n", line):
            current = line.strip().rstrip(":")
        elif current in zips and line.strip() == "CodeUri: ./deployment.zip":
            lines[i] = line.replace("./deployment.zip", f"./{zips[current]}")
    template.write_text("".join(lines), encoding="utf-8")
    found = {name: uri for name, _, uri in functions(template)}
    wrong = {name: uri for name, uri in found.items() if name in zips and uri != f"./{zips[name]}"}
    if wrong or set(zips) - set(found):
        raise SystemExit(f"lean_package: could not point {sorted(wrong) or sorted(set(zips) - set(found))} "
                         "at their zips: has Chalice's template layout changed?")


def exclusion_table() -> str:
    """docs/deployment.md's table of what is left out and why (tests keep the page equal to this)."""
    rows = ["| left out | why |", "|---|---|"]
    for rule in EXCLUSIONS:
        kept = f" (kept: {', '.join(f'`{k}`' for k in rule.keep)})" if rule.keep else ""
        rows.append(f"| {', '.join(f'`{p}`' for p in rule.patterns)}{kept} | {rule.reason} |")
    rows += ["", "| function | its own zip also leaves out | why |", "|---|---|---|"]
    for cut in FUNCTION_CUTS:
        names = sorted({p.split("/")[0] for p in cut.exclusion.patterns if p.endswith("/*")})
        rows.append(f"| {cut.function} | {', '.join(f'`{n}`' for n in names)} | "
                    f"{cut.exclusion.reason.split(': ', 1)[1]} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package_dir", type=Path, nargs="?", help="chalice package's output folder (build/package)")
    parser.add_argument("--no-strip", action="store_true", help="keep shared objects as they are")
    parser.add_argument("--one-zip", action="store_true", help="every function keeps deployment.zip (no cuts)")
    parser.add_argument("--no-pyc", action="store_true", help="ship sources only (every cold start compiles them)")
    parser.add_argument("--table", action="store_true", help="print docs/deployment.md's exclusion table and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(exclusion_table())
        return 0
    if args.package_dir is None:
        parser.error("package_dir is required")
    src = args.package_dir / "deployment.zip"
    if not args.no_pyc:
        check_runtime(args.package_dir / "sam.yaml")
    before = unzipped_bytes(src)
    tmp = src.with_suffix(".lean.zip")
    report = lean_zip(src, tmp, strip=not args.no_strip, compile_pyc=not args.no_pyc)
    os.replace(tmp, src)
    after, bytecode, sources = report.pop("unzipped"), report.pop("bytecode"), report.pop("sources")
    print(f"lean package: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB unzipped (limit {LIMIT_BYTES / 1e6:.0f} MB)")
    for reason, size in sorted(report.items(), key=lambda kv: -kv[1]):
        print(f"  -{size / 1e6:6.1f} MB  {reason}")
    if bytecode:
        print(f"  +{bytecode / 1e6:6.1f} MB  bytecode (.pyc), so no cold start compiles; -{sources / 1e6:.1f} MB of "
              "third-party sources it replaces")
    for stale in args.package_dir.glob("*.zip"):  # a function's zip of an earlier run, perhaps no longer cut
        if stale.name != "deployment.zip":
            stale.unlink()
    if not args.one_zip:
        for cut in FUNCTION_CUTS:
            lean_zip(src, args.package_dir / f"{cut.function}.zip", rules=(cut.exclusion,), strip=False)
        point_functions_at(args.package_dir / "sam.yaml", {c.function: f"{c.function}.zip" for c in FUNCTION_CUTS})
    print(size_table(args.package_dir))
    over = [uri for _, _, uri in functions(args.package_dir / "sam.yaml")
            if unzipped_bytes(args.package_dir / uri) > LIMIT_BYTES]
    if over:
        print(f"lean package over the limit of {LIMIT_BYTES} bytes unzipped: {over}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
