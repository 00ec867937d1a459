#!/usr/bin/python3
"""Convert between PyTorch-CycleGAN generator checkpoints and ageshift's model file.

    export --young-to-old netG_A2B.pth --old-to-young netG_B2A.pth --size 256 -o model.safetensors
    import model.safetensors --out-dir DIR      (writes DIR/netG_A2B.pth, DIR/netG_B2A.pth)
    selftest                                    (round trip in a temp dir)

Domain A is "young", domain B is "old": G_A2B ages a face, G_B2A rejuvenates it.
The model file stores each generator's state_dict under the prefix "G_A2B." /
"G_B2A." with metadata describing the architecture. Exit code 1 on any error.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cyclegan_models import (UPSAMPLE_KINDS, Generator, read_safetensors,  # noqa: E402
                             write_safetensors)

FORMAT = "ageshift-model"
VERSION = "1"
GENERATORS = (
    # (prefix, direction, pth file name)
    ("G_A2B", "young_to_old", "netG_A2B.pth"),
    ("G_B2A", "old_to_young", "netG_B2A.pth"),
)

_BLOCK_RE = re.compile(r"^model\.(\d+)\.conv_block\.")


class CliError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def load_state_dict(path, what):
    if not os.path.exists(path):
        raise CliError("%s: file not found: %s" % (what, path))
    if not os.path.isfile(path):
        raise CliError("%s: not a regular file: %s" % (what, path))
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except TypeError:  # torch without weights_only
            obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - report any loader failure
        raise CliError("%s: cannot load %s as a plain PyTorch state_dict "
                       "(expected the output of torch.save(net.state_dict(), ...)): %s: %s"
                       % (what, path, type(e).__name__, e))
    if isinstance(obj, torch.nn.Module):
        raise CliError("%s: %s contains a pickled nn.Module, not a state_dict; "
                       "save it with torch.save(net.state_dict(), path)" % (what, path))
    if not isinstance(obj, dict):
        raise CliError("%s: %s is not a state_dict (got %s)" % (what, path, type(obj).__name__))
    if not obj:
        raise CliError("%s: %s is an empty state_dict" % (what, path))
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CliError("%s: %s is not a state_dict: entries %s are not name->tensor"
                       % (what, path, ", ".join(repr(b) for b in bad[:5])))
    keys = list(obj.keys())
    if all(k.startswith("module.") for k in keys):
        log("note: %s: stripping 'module.' prefix (DataParallel checkpoint)" % path)
        obj = OrderedDict((k[len("module."):], v) for k, v in obj.items())
    return obj


def infer_arch(sd, what):
    if "model.1.weight" not in sd:
        raise CliError("%s: no 'model.1.weight' entry; this does not look like a "
                       "PyTorch-CycleGAN Generator state_dict (first keys: %s)"
                       % (what, ", ".join(list(sd.keys())[:5])))
    w = sd["model.1.weight"]
    if w.dim() != 4:
        raise CliError("%s: model.1.weight has shape %s, expected 4-D conv weight"
                       % (what, tuple(w.shape)))
    ngf = int(w.shape[0])
    blocks = set()
    for k in sd:
        m = _BLOCK_RE.match(k)
        if m:
            blocks.add(int(m.group(1)))
    n_blocks = len(blocks)
    # The seed's first ConvTranspose2d is module 10 + n_blocks; with resize upsampling that
    # module is an Upsample (no weights) and the first convolution is module 12 + n_blocks.
    upsample = "convt" if "model.%d.weight" % (10 + n_blocks) in sd else "resize"
    return ngf, n_blocks, upsample


def check_against_generator(sd, ngf, n_blocks, what, upsample="convt"):
    ref = Generator(ngf=ngf, n_blocks=n_blocks, upsample=upsample).state_dict()
    missing = [k for k in ref if k not in sd]
    unexpected = [k for k in sd if k not in ref]
    shape_bad = [(k, tuple(sd[k].shape), tuple(ref[k].shape))
                 for k in ref if k in sd and tuple(sd[k].shape) != tuple(ref[k].shape)]
    if missing or unexpected or shape_bad:
        lines = ["%s: does not match Generator(ngf=%d, n_blocks=%d, upsample=%s):"
                 % (what, ngf, n_blocks, upsample)]
        for k in missing:
            lines.append("  missing:    %s %s" % (k, tuple(ref[k].shape)))
        for k in unexpected:
            lines.append("  unexpected: %s %s" % (k, tuple(sd[k].shape)))
        for k, got, want in shape_bad:
            lines.append("  shape:      %s is %s, expected %s" % (k, got, want))
        raise CliError("\n".join(lines))
    return list(ref.keys())


# ---------------------------------------------------------------------------
# export / import
# ---------------------------------------------------------------------------

def cmd_export(args):
    if args.size <= 0 or args.size % 4 != 0:
        raise CliError("--size must be a positive multiple of 4 (got %d)" % args.size)
    sources = {"G_A2B": args.young_to_old, "G_B2A": args.old_to_young}
    tensors = OrderedDict()
    meta = OrderedDict([
        ("format", FORMAT),
        ("version", VERSION),
        ("domain_A", "young"),
        ("domain_B", "old"),
    ])
    for prefix, direction, _ in GENERATORS:
        path = sources[prefix]
        what = "%s (%s)" % (prefix, direction)
        sd = load_state_dict(path, what)
        ngf, n_blocks, upsample = infer_arch(sd, what + " " + path)
        names = check_against_generator(sd, ngf, n_blocks, what + " " + path, upsample)
        converted = []
        for k in names:
            t = sd[k].detach().cpu()
            if t.dtype != torch.float32:
                converted.append("%s (%s)" % (k, t.dtype))
                t = t.float()
            tensors["%s.%s" % (prefix, k)] = t.contiguous()
        if converted:
            log("note: %s: converted to float32: %s" % (path, ", ".join(converted)))
        meta["%s.arch" % prefix] = "generator"
        meta["%s.ngf" % prefix] = str(ngf)
        meta["%s.n_blocks" % prefix] = str(n_blocks)
        meta["%s.size" % prefix] = str(args.size)
        meta["%s.upsample" % prefix] = upsample
        meta["%s.direction" % prefix] = direction
        log("%s: %s -> ngf=%d n_blocks=%d upsample=%s, %d tensors"
            % (prefix, path, ngf, n_blocks, upsample, len(names)))

    out = args.output
    out_dir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_dir):
        raise CliError("output directory does not exist: %s" % out_dir)
    tmp = out + ".tmp"
    try:
        nbytes = write_safetensors(tmp, tensors, meta)
        os.replace(tmp, out)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise CliError("cannot write %s: %s" % (out, e))
    print("wrote %s (%d tensors, %d bytes)" % (out, len(tensors), nbytes))
    return 0


def _meta_int(meta, key, path):
    if key not in meta:
        raise CliError("%s: metadata key '%s' missing" % (path, key))
    try:
        v = int(meta[key])
    except ValueError:
        raise CliError("%s: metadata '%s' is not an integer: %r" % (path, key, meta[key]))
    if v <= 0 and not key.endswith("n_blocks"):
        raise CliError("%s: metadata '%s' must be positive: %r" % (path, key, meta[key]))
    if v < 0:
        raise CliError("%s: metadata '%s' must be >= 0: %r" % (path, key, meta[key]))
    return v


def cmd_import(args):
    path = args.model
    if not os.path.exists(path):
        raise CliError("model file not found: %s" % path)
    try:
        tensors, meta = read_safetensors(path)
    except Exception as e:  # noqa: BLE001
        raise CliError("%s: cannot read safetensors file: %s: %s" % (path, type(e).__name__, e))
    if meta.get("format") != FORMAT:
        raise CliError("%s: metadata 'format' is %r, expected %r"
                       % (path, meta.get("format"), FORMAT))
    if meta.get("version") != VERSION:
        raise CliError("%s: unsupported model version %r (this tool handles %r)"
                       % (path, meta.get("version"), VERSION))

    known = tuple(p + "." for p, _, _ in GENERATORS)
    ignored = sorted({k.split(".", 1)[0] for k in tensors if not k.startswith(known)})
    if ignored:
        log("note: ignoring tensors with prefixes: %s" % ", ".join(ignored))

    results = []
    for prefix, direction, fname in GENERATORS:
        arch = meta.get("%s.arch" % prefix)
        if arch != "generator":
            raise CliError("%s: metadata '%s.arch' is %r, expected 'generator'"
                           % (path, prefix, arch))
        ngf = _meta_int(meta, "%s.ngf" % prefix, path)
        n_blocks = _meta_int(meta, "%s.n_blocks" % prefix, path)
        upsample = meta.get("%s.upsample" % prefix, "convt")  # absent in older files
        if upsample not in UPSAMPLE_KINDS:
            raise CliError("%s: metadata '%s.upsample' is %r, expected one of %s"
                           % (path, prefix, upsample, ", ".join(UPSAMPLE_KINDS)))
        sd = OrderedDict((k[len(prefix) + 1:], v) for k, v in tensors.items()
                         if k.startswith(prefix + "."))
        if not sd:
            raise CliError("%s: no tensors with prefix '%s.'" % (path, prefix))
        check_against_generator(sd, ngf, n_blocks, "%s in %s" % (prefix, path), upsample)
        net = Generator(ngf=ngf, n_blocks=n_blocks, upsample=upsample)
        net.load_state_dict(sd, strict=True)
        results.append((fname, net.state_dict(), prefix, ngf, n_blocks))

    os.makedirs(args.out_dir, exist_ok=True)
    for fname, sd, prefix, ngf, n_blocks in results:
        out = os.path.join(args.out_dir, fname)
        try:
            torch.save(sd, out)
        except OSError as e:
            raise CliError("cannot write %s: %s" % (out, e))
        print("wrote %s (%s, ngf=%d, n_blocks=%d, %d tensors)"
              % (out, prefix, ngf, n_blocks, len(sd)))
    return 0


# ---------------------------------------------------------------------------
# selftest
# ---------------------------------------------------------------------------

def _expect_fail(argv, what):
    rc = main(argv, _quiet_errors=True)
    if rc != 1:
        raise AssertionError("expected exit code 1 for %s, got %r" % (what, rc))


def cmd_selftest(args):
    tmp = tempfile.mkdtemp(prefix="pth2st_")
    try:
        for ngf, n_blocks, size, upsample in ((8, 3, 64, "convt"), (4, 9, 256, "convt"),
                                              (4, 2, 32, "resize")):
            torch.manual_seed(1234 + ngf)
            nets = {}
            for prefix, _, fname in GENERATORS:
                g = Generator(ngf=ngf, n_blocks=n_blocks, upsample=upsample)
                with torch.no_grad():
                    for p in g.parameters():
                        p.normal_(0.0, 0.1)
                nets[prefix] = g
                torch.save(g.state_dict(), os.path.join(tmp, "src_" + fname))
            model = os.path.join(tmp, "model.safetensors")
            out_dir = os.path.join(tmp, "imported")
            rc = main(["export",
                       "--young-to-old", os.path.join(tmp, "src_netG_A2B.pth"),
                       "--old-to-young", os.path.join(tmp, "src_netG_B2A.pth"),
                       "--size", str(size), "-o", model])
            assert rc == 0, "export failed"
            _, meta = read_safetensors(model)
            assert meta["G_A2B.ngf"] == str(ngf) and meta["G_B2A.n_blocks"] == str(n_blocks)
            assert meta["G_A2B.direction"] == "young_to_old"
            assert meta["G_B2A.direction"] == "old_to_young"
            assert meta["G_A2B.size"] == str(size)
            assert meta["G_B2A.upsample"] == upsample
            rc = main(["import", model, "--out-dir", out_dir])
            assert rc == 0, "import failed"
            for prefix, _, fname in GENERATORS:
                ref = nets[prefix].state_dict()
                got = torch.load(os.path.join(out_dir, fname), map_location="cpu")
                assert list(got.keys()) == list(ref.keys()), "key order differs"
                for k in ref:
                    assert got[k].dtype == ref[k].dtype, k
                    assert torch.equal(got[k], ref[k]), "value differs: %s %s" % (prefix, k)
                g = Generator(ngf=ngf, n_blocks=n_blocks, upsample=upsample)
                g.load_state_dict(got, strict=True)
            log("selftest: ngf=%d n_blocks=%d upsample=%s round trip bit-exact"
                % (ngf, n_blocks, upsample))

        # error paths
        for prefix, _, fname in GENERATORS:  # the (4, 9) convt pair for the error paths
            torch.save(Generator(ngf=4, n_blocks=9).state_dict(), os.path.join(tmp, "src_" + fname))
        src_a = os.path.join(tmp, "src_netG_A2B.pth")
        src_b = os.path.join(tmp, "src_netG_B2A.pth")
        out = os.path.join(tmp, "bad.safetensors")
        _expect_fail(["export", "--young-to-old", os.path.join(tmp, "nope.pth"),
                      "--old-to-young", src_b, "--size", "256", "-o", out], "missing file")
        notsd = os.path.join(tmp, "notsd.pth")
        torch.save([torch.zeros(3)], notsd)
        _expect_fail(["export", "--young-to-old", notsd, "--old-to-young", src_b,
                      "--size", "256", "-o", out], "not a state_dict")
        garbage = os.path.join(tmp, "garbage.pth")
        with open(garbage, "wb") as f:
            f.write(b"this is not a checkpoint")
        _expect_fail(["export", "--young-to-old", garbage, "--old-to-young", src_b,
                      "--size", "256", "-o", out], "garbage file")
        sd = torch.load(src_a, map_location="cpu")
        sd["model.12.weight_extra"] = torch.zeros(1)
        del sd["model.26.bias"]
        renamed = os.path.join(tmp, "renamed.pth")
        torch.save(sd, renamed)
        _expect_fail(["export", "--young-to-old", renamed, "--old-to-young", src_b,
                      "--size", "256", "-o", out], "mismatched names")
        _expect_fail(["export", "--young-to-old", src_a, "--old-to-young", src_b,
                      "--size", "30", "-o", out], "bad size")
        _expect_fail(["import", os.path.join(tmp, "nope.safetensors"), "--out-dir", tmp],
                     "missing model")
        _expect_fail(["import", garbage, "--out-dir", tmp], "garbage model")
        assert not os.path.exists(out), "failed export left an output file"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("selftest ok")
    return 0


# ---------------------------------------------------------------------------

def build_parser():
    ap = argparse.ArgumentParser(
        description="Convert PyTorch-CycleGAN generator checkpoints to/from an "
                    "ageshift model file (safetensors).")
    sub = ap.add_subparsers(dest="cmd", metavar="{export,import,selftest}")
    sub.required = True

    ex = sub.add_parser("export", help="netG_A2B.pth + netG_B2A.pth -> model.safetensors")
    ex.add_argument("--young-to-old", required=True, metavar="PTH",
                    help="generator A->B (young to old), e.g. output/netG_A2B.pth")
    ex.add_argument("--old-to-young", required=True, metavar="PTH",
                    help="generator B->A (old to young), e.g. output/netG_B2A.pth")
    ex.add_argument("--size", required=True, type=int,
                    help="training image size (e.g. 256)")
    ex.add_argument("-o", "--output", required=True, metavar="FILE",
                    help="output model file (.safetensors)")
    ex.set_defaults(func=cmd_export)

    im = sub.add_parser("import", help="model.safetensors -> DIR/netG_A2B.pth, DIR/netG_B2A.pth")
    im.add_argument("model", help="ageshift model file (.safetensors)")
    im.add_argument("--out-dir", required=True, metavar="DIR",
                    help="directory for netG_A2B.pth and netG_B2A.pth")
    im.set_defaults(func=cmd_import)

    st = sub.add_parser("selftest", help="round-trip random generators in a temp dir")
    st.set_defaults(func=cmd_selftest)
    return ap


def main(argv=None, _quiet_errors=False):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as e:
        if not _quiet_errors:
            log("error: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
