"""Regenerate mlops_infra/plan/autonames.json: pulumi-aws's auto-naming table at the pinned provider version.

pulumi-aws gives every resource with an input `name` the auto-name `<logical name>-<7 random hex>` of at most 255
characters (`setAutonaming` in provider/autonaming.go), except where its resource table overrides a field with
`tfbridge.AutoName(field, maxLength, separator)`, `AutoNameTransform`, `AutoNameWithCustomOptions` or a
`FromName(AutoNameOptions{...})` default (provider/resource_overrides.go; provider/resources.go before the v7
split). The bridge refuses a name whose prefix plus random part is over the maximum at Check
(`resource.NewUniqueName`: "name '<prefix>' plus 7 random chars is longer than maximum length 64").

    python tools/gen_autonames.py --git-dir <pulumi-aws clone>/.git --ref v7.51.1
    python tools/gen_autonames.py --source resource_overrides.go --source autonaming.go --ref <commit>

The first form reads both files at the tag; the second reads files you saved from the repository at `--ref`.
`--version` defaults to the pulumi-aws installed next to this interpreter: the table records it, and
tests/test_plan_names.py fails when the installed pulumi-aws differs, so a pin bump regenerates the table.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "mlops_infra" / "plan" / "autonames.json"
FILES = ("provider/resource_overrides.go", "provider/resources.go", "provider/autonaming.go")

# Module constants whose lower-cased name is not the token's module (provider/resources.go, the `const` block).
MODULES = {"cfgMod": "cfg", "dxMod": "directconnect", "lbMod": "lb", "albMod": "alb"}
# TF resources whose token the provider's token strategy does not derive from the TF name (awsTokenStrategy).
TOKENS = {
    "aws_db_instance": "aws:rds/instance:Instance",
    "aws_elastic_beanstalk_environment": "aws:elasticbeanstalk/environment:Environment",
}

_RESOURCE = re.compile(r'^\t\t"(aws_[a-z0-9_]+)": \{', re.M)
_FIELD = re.compile(r'^\t\t\t\t"([a-z0-9_]+)": ', re.M)
_TOK = re.compile(r'Tok:\s*awsResource\((\w+), "(\w+)"\)')


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def token(tf_name: str, block: str) -> str:
    if tf_name in TOKENS:
        return TOKENS[tf_name]
    found = _TOK.search(block)
    if found:
        mod = MODULES.get(found.group(1), found.group(1).removesuffix("Mod").lower())
        typ = found.group(2)
        return f"aws:{mod}/{typ[:1].lower() + typ[1:]}:{typ}"
    mod, _, rest = tf_name.removeprefix("aws_").partition("_")
    camel = _camel(rest)
    return f"aws:{mod}/{camel}:{camel[:1].upper() + camel[1:]}"


def _options(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, pattern in (("separator", r'Separator:\s*"([^"]*)"'), ("maxLength", r"Maxlen:\s*(\d+)"),
                         ("randomLength", r"Randlen:\s*(\d+)")):
        found = re.search(pattern, text)
        if found:
            out[key] = int(found.group(1)) if key != "separator" else found.group(1)
    if "Charset:" in text:
        out["charset"] = re.search(r'Charset:\s*\[\]rune\("([^"]*)"\)', text).group(1)  # type: ignore[union-attr]
    return out


def field_rule(tf_field: str, text: str) -> dict[str, Any] | None:
    """The auto-name rule of one field's SchemaInfo text, or None when it has none.

    As the bridge computes it (`ComputeAutoNameDefault`): the logical name, lower-cased by a `ToLower` transform,
    plus the separator, plus `randomLength` random characters when that is > 0; `AutoName`/`AutoNameTransform` use
    7 random hex characters and "-" unless a separator is given; a bare `AutoNameOptions` has no separator and no
    random part unless it sets them."""
    call = re.match(r'tfbridge\.AutoName(Transform)?\("(\w+)", (\d+)(?:, "([^"]*)")?', text)
    custom = re.match(r'tfbridge\.AutoNameWithCustomOptions\("(\w+)"', text)
    rule: dict[str, Any] = {"separator": "", "randomLength": 0, "maxLength": 0}
    if call:
        rule.update(field=call.group(2), maxLength=int(call.group(3)), randomLength=7,
                    separator=call.group(4) if call.group(4) is not None else "-")
        lower = call.group(1) is not None and "ToLower" in text
    elif custom:
        rule.update({"field": custom.group(1), **_options(text)})
        lower = re.search(r"Transform:\s*func\(name string\) string \{\s*return strings\.ToLower", text) is not None
    elif "FromName(tfbridge.AutoNameOptions" in text or "ComputeAutoNameDefault" in text:
        rule.update({"field": _camel(tf_field), **_options(text)})
        computed = re.search(r"rand, maxlen := (\d+), (\d+)", text)
        if computed:
            rule.update(randomLength=int(computed.group(1)), maxLength=int(computed.group(2)))
        lower = re.search(r"Transform:\s*func\(name string\) string \{\s*return strings\.ToLower", text) is not None
    elif "NewUniqueHex(" in text:
        hexed = re.search(r'NewUniqueHex\(res\.URN\.Name\(\)\+"([^"]*)", (\d+), (\d+)\)', text)
        if hexed is None:
            return None
        rule.update(field=_camel(tf_field), separator=hexed.group(1), randomLength=int(hexed.group(2)),
                    maxLength=int(hexed.group(3)))
        lower = False
    else:
        return None
    if lower:
        rule["lowercase"] = True
    if "alias/" in text:
        rule["prefix"] = "alias/"
    if ".fifo" in text:
        rule["fifoSuffix"] = ".fifo"
    return rule


def parse_overrides(source: str) -> dict[str, dict[str, Any]]:
    """Pulumi type token -> {Pulumi field: rule} for every top-level field with an auto-name rule."""
    table: dict[str, dict[str, Any]] = {}
    starts = list(_RESOURCE.finditer(source))
    for i, match in enumerate(starts):
        block = source[match.end():starts[i + 1].start() if i + 1 < len(starts) else len(source)]
        fields = list(_FIELD.finditer(block))
        rules: dict[str, Any] = {}
        for j, fmatch in enumerate(fields):
            text = block[fmatch.end():fields[j + 1].start() if j + 1 < len(fields) else len(block)]
            rule = field_rule(fmatch.group(1), text)
            if rule is not None:
                rules[rule.pop("field")] = rule
        if rules:
            table[token(match.group(1), block)] = rules
    return table


def parse_default(source: str) -> dict[str, Any]:
    maxlen = re.search(r"maxLength := (\d+)", source)
    sep = re.search(r'separator := "([^"]*)"', source)
    if maxlen is None or sep is None:
        raise SystemExit("autonaming.go: no `maxLength :=` / `separator :=` found")
    return {"field": "name", "maxLength": int(maxlen.group(1)), "separator": sep.group(1), "randomLength": 7}


def _read(args: argparse.Namespace) -> dict[str, str]:
    if args.git_dir:
        texts = {}
        for path in FILES:
            shown = subprocess.run(["git", "--git-dir", args.git_dir, "show", f"{args.ref}:{path}"],
                                   capture_output=True, text=True, check=False)
            if shown.returncode == 0:
                texts[path] = shown.stdout
        return texts
    return {f"provider/{Path(p).name}": Path(p).read_text() for p in args.source}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--git-dir")
    parser.add_argument("--source", action="append", default=[])
    parser.add_argument("--ref", required=True, help="the tag (v7.51.1) or commit the sources were read at")
    parser.add_argument("--version", default=metadata.version("pulumi-aws"))
    args = parser.parse_args()
    texts = _read(args)
    overrides: dict[str, dict[str, Any]] = {}
    for path in ("provider/resources.go", "provider/resource_overrides.go"):
        overrides.update(parse_overrides(texts.get(path, "")))
    if "provider/autonaming.go" not in texts or not overrides:
        raise SystemExit(f"need provider/autonaming.go and the resource table; read {sorted(texts)}")
    table = {
        "pulumiAwsVersion": args.version,
        "source": {"repository": "pulumi/pulumi-aws", "ref": args.ref,
                   "files": sorted(p for p in texts if p != "provider/resources.go" or "aws_" in texts[p])},
        "default": parse_default(texts["provider/autonaming.go"]),
        "resources": dict(sorted(overrides.items())),
    }
    OUT.write_text(json.dumps(table, indent=1) + "\n")
    print(f"{OUT}: {len(overrides)} resources")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
