"""A MongoDB aggregation evaluator for exactly the stages analysis-pipeline-utils'
query_data_assets builds, used because FerretDB v1 cannot run them (see
dispatch_upstream.py). Semantics follow MongoDB's documentation:

- field paths ("$a.b") traverse arrays: through a list the rest of the path is applied to
  each element; objects lacking the field are left out, scalars are skipped; a missing path
  is "missing" (an array literal holds null for it; $push skips it; $first gives null);
- $match: mongomock's query matcher (dotted paths through arrays, $in, $ne: null);
- $sort: stable, by BSON type order then value; $group: output in first-seen order (MongoDB
  leaves it unspecified); $unwind drops missing, null and empty-array values;
- $addFields sets dotted paths; $project with 0 excludes, otherwise computes and keeps _id.
"""

import copy

import mongomock

MISSING = object()


def resolve(doc, path):
    """The value of a field path in doc, MISSING when absent."""
    value = doc
    for i, part in enumerate(path.split(".")):
        if isinstance(value, list):
            rest = ".".join(path.split(".")[i:])
            out = []
            for e in value:
                if isinstance(e, (dict, list)):
                    r = resolve(e, rest)
                    if r is not MISSING:
                        out.append(r)
            return out
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def evaluate(expr, doc):
    """An aggregation expression's value (MISSING for a missing field path)."""
    if isinstance(expr, str) and expr.startswith("$$ROOT"):
        return doc
    if isinstance(expr, str) and expr.startswith("$"):
        return resolve(doc, expr[1:])
    if isinstance(expr, list):
        return [None if (v := evaluate(e, doc)) is MISSING else v for e in expr]
    if isinstance(expr, dict):
        if "$cond" in expr:
            c = expr["$cond"]
            return evaluate(c["then"] if truthy(evaluate(c["if"], doc)) else c["else"], doc)
        if "$isArray" in expr:
            return isinstance(evaluate(expr["$isArray"], doc), list)
        out = {}
        for k, v in expr.items():
            r = evaluate(v, doc)
            if r is not MISSING:
                out[k] = r
        return out
    return expr


def truthy(v):
    return v not in (False, None, 0, MISSING)


def set_path(doc, path, value):
    parts = path.split(".")
    for p in parts[:-1]:
        if not isinstance(doc.get(p), dict):
            doc[p] = {}
        doc = doc[p]
    doc[parts[-1]] = value


TYPE_ORDER = {type(None): 1, int: 2, float: 2, str: 3, dict: 4, list: 5, bool: 7}


def sort_key(v):
    if v is MISSING:
        return (0, 0)
    return (TYPE_ORDER.get(type(v), 9), v if isinstance(v, (int, float, str, bool)) else repr(v))


def freeze(v):
    if isinstance(v, dict):
        return tuple((k, freeze(x)) for k, x in v.items())
    if isinstance(v, list):
        return ("list",) + tuple(freeze(x) for x in v)
    return v


def run(docs, pipeline):
    docs = [copy.deepcopy(d) for d in docs]
    for stage in pipeline:
        (op, arg), = stage.items()
        if op == "$match":
            coll = mongomock.MongoClient().db.c
            for i, d in enumerate(docs):
                coll.insert_one({"__pos": i, "d": d})
            wrapped = {("d." + k if not k.startswith("$") else k): v for k, v in arg.items()}
            keep = sorted(x["__pos"] for x in coll.find(wrapped))
            docs = [docs[i] for i in keep]
        elif op == "$sort":
            for field, direction in reversed(list(arg.items())):
                docs.sort(key=lambda d: sort_key(resolve(d, field)), reverse=direction < 0)
        elif op == "$group":
            groups = {}
            for d in docs:
                key = evaluate(arg["_id"], d)
                key = None if key is MISSING else key
                g = groups.setdefault(freeze(key), {"_id": key})
                for name, acc in arg.items():
                    if name == "_id":
                        continue
                    (aop, aexpr), = acc.items()
                    v = evaluate(aexpr, d)
                    if aop == "$push":
                        g.setdefault(name, [])
                        if v is not MISSING:
                            g[name].append(v)
                    elif aop == "$first":
                        if name not in g:
                            g[name] = None if v is MISSING else v
                    else:
                        raise ValueError(f"accumulator {aop} not implemented")
            docs = list(groups.values())
        elif op == "$replaceRoot":
            docs = [evaluate(arg["newRoot"], d) for d in docs]
        elif op == "$addFields":
            for d in docs:
                for field, expr in arg.items():
                    v = evaluate(expr, d)
                    if v is not MISSING:
                        set_path(d, field, v)
        elif op == "$unwind":
            out = []
            for d in docs:
                v = resolve(d, arg[1:])
                if isinstance(v, list):
                    for e in v:
                        c = copy.deepcopy(d)
                        set_path(c, arg[1:], e)
                        out.append(c)
                elif v is not MISSING and v is not None:
                    out.append(d)
            docs = out
        elif op == "$project":
            if all(v == 0 for v in arg.values()):
                for d in docs:
                    for field in arg:
                        d.pop(field, None)
            else:
                docs = [{"_id": d.get("_id"), **{k: v for k, v in ((k, evaluate(e, d)) for k, e in arg.items()) if v is not MISSING}} for d in docs]
        else:
            raise ValueError(f"stage {op} not implemented")
    return docs
