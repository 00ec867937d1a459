#!/usr/bin/env python3
"""Cuts a real OpenCV cascade down to its first STAGES stages and the features they use
(renumbered), so that a fuzz seed stays a few KB yet is the real file's structure and numbers.
    usage: prune_cascade.py IN.xml STAGES OUT.xml"""
import sys
import xml.etree.ElementTree as ET

src, keep, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tree = ET.parse(src)
cas = tree.getroot()[0]
lbp = cas.find("featureType").text.strip() == "LBP"
per_node = 11 if lbp else 4  # left right feature + 8 subset words, or + threshold

stages = cas.find("stages")
for s in list(stages)[keep:]:
    stages.remove(s)
cas.find("stageNum").text = str(keep)

used = {}  # old feature index -> new
for node in stages.iter("internalNodes"):
    v = node.text.split()
    for i in range(2, len(v), per_node):
        v[i] = str(used.setdefault(int(v[i]), len(used)))
    node.text = "\n            " + " ".join(v)

feats = cas.find("features")
old = list(feats)
for f in old:
    feats.remove(f)
for idx, _ in sorted(used.items(), key=lambda kv: kv[1]):
    feats.append(old[idx])
tree.write(dst, xml_declaration=True, encoding="utf-8")
