// The parts of make quality that need no estimator (metrics.js): frame sampling, flicker in
// face coordinates, the artefact score, boxes, PPM files and CSV lines. Run by make test
// (node --test), with Node.js's own test runner; no npm package needed.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const m = require('./metrics.js');

// A W x H picture of a textured face-like blob at (cx, cy) on a grey ground, plus `change`
// (a function of the position relative to the face) added inside the face.
function picture(w, h, cx, cy, change = () => [0, 0, 0]) {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const inside = dx * dx + dy * dy < 30 * 30;
      const base = inside ? [180 + ((dx * 7 + dy * 3) % 20), 140 + ((dx * dx + dy) % 15), 120] : [90, 90, 90];
      const d = inside ? change(dx, dy) : [0, 0, 0];
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, base[c] + d[c]));
    }
  return { w, h, data };
}

const faceBox = (cx, cy) => [cx - 32, cy - 32, 64, 64];

test('frames are sampled evenly and runs come from the middle', () => {
  assert.deepStrictEqual(m.sampleFrames(100, 4), [12, 37, 62, 87]);
  assert.deepStrictEqual(m.sampleFrames(3, 10), [0, 1, 2]);
  assert.deepStrictEqual(m.sampleFrames(0, 4), []);
  assert.deepStrictEqual(m.middleRun(10, 4), [3, 4, 5, 6]);
  assert.deepStrictEqual(m.middleRun(3, 8), [0, 1, 2]);
});

test('a moving face with a constant change does not flicker; a changing change does', () => {
  const change = (dx, dy) => [dx > 0 ? 12 : -5, 3, dy > 0 ? -8 : 4]; // fixed in face coordinates
  const still = [];
  const moving = [];
  const flickering = [];
  for (let t = 0; t < 8; t++) {
    const cx = 60 + 3 * t; // whole pixels: the crops see the same face each frame
    const cy = 50 + 2 * t;
    const inMoving = picture(160, 120, cx, cy);
    const outMoving = picture(160, 120, cx, cy, change);
    const crop = (img, x, y) => m.cropResize(img, faceBox(x, y), 32);
    moving.push({ inCrop: crop(inMoving, cx, cy), outCrop: crop(outMoving, cx, cy) });
    const inStill = picture(160, 120, 60, 50);
    still.push({ inCrop: crop(inStill, 60, 50), outCrop: crop(picture(160, 120, 60, 50, change), 60, 50) });
    const alternate = (dx, dy) => change(dx, dy).map((v) => (t % 2 ? v : -v));
    flickering.push({ inCrop: crop(inStill, 60, 50), outCrop: crop(picture(160, 120, 60, 50, alternate), 60, 50) });
  }
  assert.strictEqual(m.flicker(still).change, 0);
  assert.strictEqual(m.flicker(still).input, 0);
  assert.ok(m.flicker(moving).change < 1e-9, `moving: ${m.flicker(moving).change}`);
  assert.ok(m.flicker(moving).input < 1e-9, 'the crops follow the face: no motion is counted');
  assert.ok(m.flicker(flickering).change > 5, `flickering: ${m.flicker(flickering).change}`);
  assert.ok(Number.isNaN(m.flicker([]).change));
});

test('the artefact score: nothing for no change, a tint or fine lines; the area of blotches', () => {
  const S = m.ARTEFACT_SIZE;
  const face = picture(S, S, S / 2, S / 2);
  // The inner face: a 40 x 40 box well inside the disc, at 64 x 64.
  const crop = (img) => m.cropResize(img, [S / 2 - 20, S / 2 - 20, 40, 40], S);
  const score = (change) => m.artefactScore(crop(face), crop(picture(S, S, S / 2, S / 2, change))).score;
  assert.strictEqual(score(() => [0, 0, 0]), 0);
  assert.strictEqual(score(() => [18, 6, -10]), 0, 'a tint of the whole face');
  assert.strictEqual(score((dx) => (dx % 6 === 0 ? [-30, -30, -30] : [0, 0, 0])), 0, 'thin dark lines');
  // A red blotch over a disc of radius 5 (of 20 in the crop's half side): about 6 % of it.
  const red = score((dx, dy) => (dx * dx + dy * dy < 25 ? [60, -30, -30] : [0, 0, 0]));
  assert.ok(red > 4 && red < 10, `red blotch: ${red}`);
  const black = m.artefactScore(crop(face), crop(picture(S, S, S / 2, S / 2, (dx, dy) => (dx * dx + dy * dy < 25 ? [-120, -100, -90] : [0, 0, 0]))));
  assert.ok(black.lightness > 3, `black blotch: ${JSON.stringify(black)}`);
  const broken = score((dx, dy) => [((dx * 37 + dy * 91) % 7) * 20 - 60, ((dx * 13 + dy * 57) % 5) * 25 - 50, 0]);
  assert.ok(broken > red, `noise everywhere: ${broken}`);
});

test('boxes: squares around the centre, overlap, smoothing', () => {
  assert.deepStrictEqual(m.squareBox([10, 20, 40, 20], 1), [10, 10, 40, 40]);
  assert.deepStrictEqual(m.squareBox([0, 0, 50, 50]), [5, 5, 40, 40]);
  assert.strictEqual(m.iou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
  assert.strictEqual(m.iou([0, 0, 10, 10], [20, 0, 10, 10]), 0);
  assert.ok(Math.abs(m.iou([0, 0, 10, 10], [5, 0, 10, 10]) - 1 / 3) < 1e-12);
  const jitter = [[0, 0, 10, 10], [2, 0, 10, 10], [0, 0, 10, 10], [2, 0, 10, 10], [0, 0, 10, 10]];
  const s = m.smoothBoxes(jitter, 2);
  assert.ok(Math.abs(s[2][0] - 0.8) < 1e-12, 'the middle box is the mean of five');
});

test('PPM pictures round-trip; a file that is not one is refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quality-'));
  const img = picture(7, 5, 3, 2);
  const file = path.join(dir, 'a.ppm');
  m.writePPM(file, img);
  const back = m.readPPM(file);
  assert.strictEqual(back.w, 7);
  assert.strictEqual(back.h, 5);
  assert.deepStrictEqual(Array.from(back.data), Array.from(img.data));
  fs.writeFileSync(path.join(dir, 'b.ppm'), 'P5\n2 2\n255\nabcd');
  assert.throws(() => m.readPPM(path.join(dir, 'b.ppm')), /not a binary 8-bit PPM/);
  fs.rmSync(dir, { recursive: true });
});

test('CSV lines quote what needs it and leave numbers plain', () => {
  assert.strictEqual(m.csvLine(['a', 1.23456, NaN, 'x,y', 'say "hi"', undefined]), 'a,1.2346,,"x,y","say ""hi""",');
  assert.strictEqual(m.mean([1, 2, 3]), 2);
  assert.strictEqual(m.median([3, 1, 4, 2]), 2.5);
  assert.ok(Number.isNaN(m.median([])));
});
