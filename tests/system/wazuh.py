"""A small evaluator of packaging/wazuh/ over "program: message" lines.

It follows what Wazuh does with these files: the parent decoder matches the program name,
then rules are walked from the one decoded_as the decoder down through if_sid children,
the first child whose pcre2 match fits going deeper. Frequency rules (if_matched_sid) need
a history and are left out. The patterns are simple enough for Python's re to read as
PCRE2 does.
"""

import re
import xml.etree.ElementTree as ET


def _load(path):
    # Wazuh's files are lists of top-level elements with comments between: wrap them.
    return ET.fromstring("<root>" + path.read_text() + "</root>")


class Rules:
    def __init__(self, directory):
        decoders = _load(directory / "clawdbot_decoders.xml")
        parent = next(d for d in decoders.iter("decoder") if d.find("parent") is None)
        self.decoder = parent.get("name")
        self.program = re.compile(parent.findtext("program_name"))
        self.rules = []
        root = _load(directory / "clawdbot_rules.xml")
        # Wazuh reads a rule only as a child of a top-level group, and an id once.
        placed = [rule for group in root.findall("group") for rule in group.findall("rule")]
        every = list(root.iter("rule"))
        ids = [rule.get("id") for rule in every]
        if len(placed) != len(every) or len(set(ids)) != len(ids):
            raise ValueError(f"clawdbot_rules.xml: a rule outside a top-level group, or an id twice: {ids}")
        for rule in every:
            match = rule.find("match")
            self.rules.append({
                "id": rule.get("id"),
                "level": int(rule.get("level")),
                "decoded_as": rule.findtext("decoded_as"),
                "if_sid": (rule.findtext("if_sid") or "").split(),
                "frequency": rule.find("if_matched_sid") is not None,
                "match": re.compile(match.text) if match is not None else None,
            })

    def level(self, line):
        """The level of the alert Wazuh raises for one line (0: none)."""
        program, _, message = line.partition(": ")
        if not self.program.search(program):
            return 0
        fits = lambda r: r["match"] is None or r["match"].search(message)
        current = next((r for r in self.rules if r["decoded_as"] == self.decoder and fits(r)), None)
        while current is not None:
            child = next((r for r in self.rules if current["id"] in r["if_sid"]
                          and not r["frequency"] and fits(r)), None)
            if child is None:
                return current["level"]
            current = child
        return 0
