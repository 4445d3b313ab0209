#!/usr/bin/env python3
"""Test of tools/plot/groove_plot.py (ctest `plot_script`): renders the synthetic folders of
plot_fixture.py and checks the figures, the printed paths, the notes and the error messages.

    python3 tests/tools/test_plot.py        (needs numpy and matplotlib; no build)
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "tools", "plot", "groove_plot.py")
sys.path.insert(0, HERE)
import plot_fixture  # noqa: E402

RUN_FIGURES = ["loss", "accuracy", "margins", "probes", "flips", "pca"]
SWEEP_FIGURES = ["sweep_train_loss", "sweep_heldout_loss", "sweep_probe_acc", "sweep_linear_probe_acc", "sweep_margins", "sweep_fisher",
                 "sweep_onset"]
REVERSAL_FIGURES = ["reversal_steps", "reversal_curves"]
DECODE_FIGURES = ["decode_accuracy", "decode_margins", "decode_rsm", "decode_pca", "decode_generalization",
                  "decode_flips", "decode_probe"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) from the IHDR chunk of a PNG file; raises AssertionError if it is not one."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == PNG_SIGNATURE, "%s: not a PNG signature" % path
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13, "%s: first chunk is %r, not IHDR" % (path, kind)
    body = data[16:16 + length]
    (crc,) = struct.unpack(">I", data[16 + length:20 + length])
    assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, "%s: IHDR checksum mismatch" % path
    assert data[-8:-4] == b"IEND", "%s: no IEND chunk at the end" % path
    width, height = struct.unpack(">II", body[:8])
    return width, height


def run_plot(*args):
    proc = subprocess.run([sys.executable, SCRIPT] + list(args), capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


class PlotScriptTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="groove_plot_test_")
        plot_fixture.make_all(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def folder(self, name):
        return os.path.join(self.tmp, name)

    def check_output(self, figdir, expected, stdout):
        """The printed paths are exactly the expected files, each a valid PNG larger than 300x300."""
        printed = [line for line in stdout.splitlines() if line.strip()]
        want = sorted(os.path.realpath(os.path.join(figdir, e + ".png")) for e in expected)
        self.assertEqual(sorted(os.path.realpath(p) for p in printed), want, "printed paths:\n" + stdout)
        self.assertEqual(len(printed), len(set(printed)), "a path was printed twice")
        for path in want:
            self.assertTrue(os.path.isfile(path), path + " was not written")
            width, height = png_size(path)
            self.assertGreater(width, 300, path)
            self.assertGreater(height, 300, path)
        on_disk = sorted(os.path.realpath(os.path.join(root, f)) for root, _, files in os.walk(figdir) for f in files)
        self.assertEqual(on_disk, want, "files written but not printed (or the reverse)")

    def test_run_folder(self):
        rc, out, err = run_plot(self.folder("run"))
        self.assertEqual(rc, 0, err)
        self.check_output(os.path.join(self.folder("run"), "figures"), RUN_FIGURES, out)
        # The empty group probe_overlap_2 has only NaN columns: left out of panels, not an error.
        self.assertNotIn("error", err)

    def test_run_without_optional_files(self):
        out_dir = os.path.join(self.tmp, "figs_minimal")
        rc, out, err = run_plot(self.folder("run_minimal"), "--out", out_dir)
        self.assertEqual(rc, 0, err)
        # No snapshots: no PCA (a note); no examples.npy: flips rebuilt from summary.json.
        self.check_output(out_dir, [f for f in RUN_FIGURES if f != "pca"], out)
        self.assertIn("pca: skipped", err)
        self.assertIn("left out", err)  # panels of the periodic columns this run lacks

    def test_sweep_folder(self):
        out_dir = os.path.join(self.tmp, "figs_sweep")
        rc, out, err = run_plot(self.folder("sweep"), "--out", out_dir)
        self.assertEqual(rc, 0, err)
        expected = SWEEP_FIGURES + [os.path.join("r000", f) for f in RUN_FIGURES]
        self.check_output(out_dir, expected, out)
        self.assertIn("skipping run r006 (status failed", err)

    def test_reversal_folder(self):
        rc, out, err = run_plot(self.folder("reversal"))
        self.assertEqual(rc, 0, err)
        self.check_output(os.path.join(self.folder("reversal"), "figures"), REVERSAL_FIGURES, out)

    def test_not_a_groove_folder(self):
        empty = os.path.join(self.tmp, "empty_folder")
        os.makedirs(empty, exist_ok=True)
        for target in (empty, os.path.join(self.tmp, "does_not_exist")):
            rc, out, err = run_plot(target)
            self.assertEqual(rc, 1, err)
            self.assertEqual(out, "")
            self.assertIn("groove plot: error: ", err)
            self.assertIn(target, err)

    def malformed_copy(self, name, line_number, edit):
        """A copy of the run folder whose metrics.csv line `line_number` (1-based) is edited."""
        bad = os.path.join(self.tmp, name)
        shutil.copytree(self.folder("run"), bad, ignore=shutil.ignore_patterns("figures"))
        path = os.path.join(bad, "metrics.csv")
        with open(path) as f:
            lines = f.read().split("\n")
        lines[line_number - 1] = edit(lines[line_number - 1])
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return bad, path

    def test_malformed_value(self):
        def corrupt(line):
            fields = line.split(",")
            fields[3] = "0.5x"
            return ",".join(fields)
        bad, path = self.malformed_copy("bad_value", 7, corrupt)
        rc, out, err = run_plot(bad)
        self.assertEqual(rc, 1, err)
        self.assertIn("groove plot: error: %s: line 7, column 'train_acc'" % path, err)
        self.assertIn("'0.5x'", err)

    def test_missing_field(self):
        bad, path = self.malformed_copy("bad_fields", 12, lambda line: line.rsplit(",", 1)[0])
        rc, out, err = run_plot(bad)
        self.assertEqual(rc, 1, err)
        self.assertIn("groove plot: error: %s: line 12: " % path, err)
        self.assertIn("fields, expected", err)

    def test_decode_folder(self):
        rc, out, err = run_plot(self.folder("decode"), "--table")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("error", err)
        table, paths = [], []
        for line in out.splitlines():
            (paths if line.endswith(".png") else table).append(line)
        self.check_output(os.path.join(self.folder("decode"), "figures"), DECODE_FIGURES, "\n".join(paths))
        text = "\n".join(table)
        self.assertIn("decode 'fixture'", text)
        self.assertIn("lda accuracy", text)
        rows = {}
        for line in table:
            fields = line.split()
            if fields and fields[0] in ("M1", "M2", "pooled") and len(fields) > 1 and fields[1] in ("first", "last"):
                rows[(fields[0], fields[1])] = fields
        self.assertEqual(sorted(rows), [(s, w) for s in ("M1", "M2", "pooled") for w in ("first", "last")], text)
        # Accuracy rises in the fixture: the pooled last-day accuracy is above the first-day one.
        self.assertGreater(float(rows[("pooled", "last")][3]), float(rows[("pooled", "first")][3]), text)

    def decode_copy(self, name):
        bad = os.path.join(self.tmp, name)
        shutil.copytree(self.folder("decode"), bad, ignore=shutil.ignore_patterns("figures"))
        return bad

    def test_decode_without_generalization(self):
        folder = self.decode_copy("decode_no_generalization")
        os.remove(os.path.join(folder, "generalization.csv"))
        rc, out, err = run_plot(folder)
        self.assertEqual(rc, 0, err)
        self.check_output(os.path.join(folder, "figures"), [f for f in DECODE_FIGURES if f != "decode_generalization"],
                          out)
        self.assertIn("generalization.csv: not found", err)

    def test_decode_missing_column(self):
        folder = self.decode_copy("decode_bad_column")
        path = os.path.join(folder, "sessions.csv")
        with open(path) as f:
            lines = f.read().split("\n")
        header = lines[0].split(",")
        drop = header.index("rsm_index")
        with open(path, "w") as f:
            f.write("\n".join(",".join(v for i, v in enumerate(line.split(",")) if i != drop) if line else line
                              for line in lines))
        rc, out, err = run_plot(folder, "--table")
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "")
        self.assertIn("groove plot: error: %s: line 1: no column 'rsm_index'" % path, err)
        self.assertFalse(os.path.exists(os.path.join(folder, "figures")), "figures written for a bad folder")

    def test_decode_bad_value(self):
        folder = self.decode_copy("decode_bad_value")
        path = os.path.join(folder, "stimuli.csv")
        with open(path) as f:
            lines = f.read().split("\n")
        fields = lines[4].split(",")
        fields[5] = "0.5x"
        lines[4] = ",".join(fields)
        with open(path, "w") as f:
            f.write("\n".join(lines))
        rc, out, err = run_plot(folder)
        self.assertEqual(rc, 1, err)
        self.assertIn("groove plot: error: %s: line 5, column 'fraction_correct'" % path, err)

    def test_format_option(self):
        out_dir = os.path.join(self.tmp, "figs_svg")
        rc, out, err = run_plot(self.folder("reversal"), "--out", out_dir, "--format", "svg")
        self.assertEqual(rc, 0, err)
        printed = out.split()
        self.assertEqual(sorted(os.path.basename(p) for p in printed), ["reversal_curves.svg", "reversal_steps.svg"])
        for p in printed:
            with open(p) as f:
                self.assertIn("<svg", f.read(4096))


if __name__ == "__main__":
    unittest.main(verbosity=2)
