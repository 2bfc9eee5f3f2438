"""twilio-python side of kav-twiml's differential test.

Reads one JSON request on stdin:
    {"docs": [{"kind": "voice" | "messaging", "tree": NODE, "rust_xml": "..."}]}
where NODE is {"tag": str, "attrs": [[name, value], ...], "content": [str | NODE, ...]} and
attribute values are JSON strings, booleans or integers.

Builds each document with twilio-python's own classes (the parent's helper method for each child,
e.g. VoiceResponse().gather(...).say(...); add_child() for elements the helper does not know),
renders it, and compares it with Rust's rendering as XML (same elements, same attributes as a
set, same text). Writes one JSON answer on stdout:
    {"schema": {...}, "results": [{"xml": str, "same": bool, "why": str}]}
where schema describes every helper class: tag, attribute names, children classes, and whether
it takes text.
"""
import functools
import inspect
import json
import re
import sys
import xml.etree.ElementTree as ET

from twilio.twiml import TwiML, messaging_response, voice_response

MAP = TwiML.MAP


def lower_camel(s):
    if not s or "_" not in s:
        return s
    r = "".join(x.title() for x in s.split("_"))
    return r[0].lower() + r[1:]


def xml_name(param):
    return lower_camel(MAP.get(param, param))


def classes(mod):
    return {
        name: cls
        for name, cls in inspect.getmembers(mod, inspect.isclass)
        if issubclass(cls, TwiML) and cls.__module__ == mod.__name__
    }


@functools.lru_cache(maxsize=None)
def tag_of(cls):
    return re.search(r'self.name = "([^"]+)"', inspect.getsource(cls)).group(1)


@functools.lru_cache(maxsize=None)
def text_param(cls):
    params = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
    return params[0] if params else None


class Helper:
    """What twilio-python offers: per class, its child methods keyed by child tag."""

    def __init__(self, mod):
        self.classes = classes(mod)
        self.methods = {}  # class name -> {child tag: (method name, child class)}
        self.attrs = {name: set() for name in self.classes}
        for name, cls in self.classes.items():
            table = {}
            for mname, m in cls.__dict__.items():
                if mname.startswith("_") or not callable(m):
                    continue
                target = re.search(r"self\.nest\(\s*(\w+)\(", inspect.getsource(m)).group(1)
                child = self.classes[target]
                table[tag_of(child)] = (mname, child)
                tp = text_param(child)
                for p in list(inspect.signature(m).parameters)[1:]:
                    if p not in ("kwargs", tp):
                        self.attrs[target].add(xml_name(p))
            self.methods[name] = table

    def schema(self):
        return {
            name: {
                "tag": tag_of(cls),
                "attributes": sorted(self.attrs[name]),
                "children": sorted(c.__name__ for _, c in self.methods[name].values()),
                "text": text_param(cls) is not None,
            }
            for name, cls in self.classes.items()
        }

    def build_children(self, obj, content, skip_first_text):
        items = content[1:] if skip_first_text else content
        for item in items:
            if isinstance(item, str):
                obj.nest(item)
            else:
                self.build(obj, item)

    def build(self, parent, node):
        tag, attrs, content = node["tag"], node["attrs"], node["content"]
        entry = self.methods.get(type(parent).__name__, {}).get(tag)
        lead = content[0] if content and isinstance(content[0], str) else None
        if entry is None:
            # Not offered by the helper (escape hatch): a generic node.
            child = parent.add_child(tag, lead, **dict(attrs))
            self.build_children(child, content, lead is not None)
            return child
        method_name, cls = entry
        method = getattr(parent, method_name)
        params = list(inspect.signature(method).parameters)
        by_xml = {xml_name(p): p for p in params if p != "kwargs"}
        kwargs = {}
        for name, value in attrs:
            kwargs[by_xml.get(name, name)] = value
        tp = text_param(cls)
        took_text = False
        if tp is not None and lead is not None:
            kwargs[tp] = lead
            took_text = True
        child = method(**kwargs)
        self.build_children(child, content, took_text)
        return child


def canon(el):
    content = []

    def add_text(t):
        if not t:
            return
        if content and isinstance(content[-1], str):
            content[-1] += t
        else:
            content.append(t)

    add_text(el.text)
    for c in el:
        content.append(canon(c))
        add_text(c.tail)
    return [el.tag, sorted(el.attrib.items()), content]


def diff(a, b, path="/"):
    if isinstance(a, str) or isinstance(b, str):
        return "" if a == b else f"{path}: text {a!r} != {b!r}"
    if a[0] != b[0]:
        return f"{path}: tag {a[0]} != {b[0]}"
    path = f"{path}{a[0]}/"
    if a[1] != b[1]:
        return f"{path}: attributes {a[1]} != {b[1]}"
    if len(a[2]) != len(b[2]):
        return f"{path}: {len(a[2])} != {len(b[2])} children"
    for x, y in zip(a[2], b[2]):
        d = diff(x, y, path)
        if d:
            return d
    return ""


def main():
    request = json.load(sys.stdin)
    helpers = {"voice": Helper(voice_response), "messaging": Helper(messaging_response)}
    roots = {"voice": voice_response.VoiceResponse, "messaging": messaging_response.MessagingResponse}
    results = []
    for doc in request["docs"]:
        helper = helpers[doc["kind"]]
        root = roots[doc["kind"]]()
        tree = doc["tree"]
        for name, value in tree["attrs"]:
            root.attrs[name] = value
        helper.build_children(root, tree["content"], False)
        xml = root.to_xml()
        try:
            why = diff(canon(ET.fromstring(xml.encode("utf-8"))),
                       canon(ET.fromstring(doc["rust_xml"].encode("utf-8"))))
        except ET.ParseError as e:
            why = f"parse error: {e}"
        results.append({"xml": xml, "same": why == "", "why": why})
    answer = {
        "schema": {kind: h.schema() for kind, h in helpers.items()},
        "results": results,
    }
    json.dump(answer, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
