"""Validates aind-analysis-go's records with aind-data-schema's own Metadata model.

Usage: python validate_records.py FILE...   (each FILE a metadata.nd.json or a DocDB record)

Prints one JSON object per line: {"file", "valid", "errors", "extra_fields", "warnings"}.
"extra_fields" lists the paths present in the record but absent from the validated model's
dump: fields the model ignores (Metadata has extra="ignore", so its top level accepts
unknown names silently) or that a forbidding model would have refused. "_id" is a DocDB key,
not part of the record, and is listed like any other. Exit status 0 when every file is
valid, 1 otherwise. A test oracle only: never a dependency of the Go binaries.
"""

import contextlib
import io
import json
import sys
import warnings

from aind_data_schema.core.metadata import Metadata
from pydantic import ValidationError


def extra_paths(given, dumped, prefix=""):
    """Paths of `given` whose key is missing from `dumped` (recursively)."""
    out = []
    if isinstance(given, dict) and isinstance(dumped, dict):
        for k, v in given.items():
            path = f"{prefix}.{k}" if prefix else k
            if k not in dumped:
                out.append(path)
            else:
                out.extend(extra_paths(v, dumped[k], path))
    elif isinstance(given, list) and isinstance(dumped, list):
        for i, (g, d) in enumerate(zip(given, dumped)):
            out.extend(extra_paths(g, d, f"{prefix}.{i}"))
    return out


def main(paths):
    ok = True
    for path in paths:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        result = {"file": path, "valid": False, "errors": [], "extra_fields": [], "warnings": []}
        printed = io.StringIO()
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
            warnings.simplefilter("always")
            try:
                model = Metadata.model_validate(record)
                result["valid"] = True
                dumped = model.model_dump(mode="json")
                result["extra_fields"] = extra_paths(record, dumped)
            except ValidationError as e:
                result["errors"] = [
                    {"loc": ".".join(str(p) for p in err["loc"]), "msg": err["msg"], "type": err["type"]}
                    for err in e.errors()
                ]
            except Exception as e:  # noqa: BLE001 - the model's own validators raise others
                # Metadata's validators catch Processing's ValidationError, print it and go on
                # with a dict, then fail with an AttributeError: report that and the print.
                result["errors"] = [{"loc": "", "msg": repr(e), "type": type(e).__name__}]
        result["warnings"] = sorted({str(w.message) for w in caught})
        if printed.getvalue().strip():
            result["printed"] = printed.getvalue().strip()
        ok = ok and result["valid"]
        print(json.dumps(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
