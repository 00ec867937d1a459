// The measurements of make quality that need no estimator: pictures (binary PPM, as ffmpeg
// writes them), face crops in face coordinates, the artefact score, flicker, and the small
// statistics and CSV helpers. Plain functions on plain arrays, tested by test_metrics.js.
'use strict';

const fs = require('fs');

// A binary PPM (P6, maxval 255): {w, h, data: Uint8Array of w * h * 3 RGB bytes}.
function readPPM(file) {
  const b = fs.readFileSync(file);
  const tok = [];
  let pos = 0;
  while (tok.length < 4) {
    while (pos < b.length && /\s/.test(String.fromCharCode(b[pos]))) pos++;
    if (b[pos] === 0x23) { // a comment
      while (pos < b.length && b[pos] !== 0x0a) pos++;
      continue;
    }
    let s = '';
    while (pos < b.length && !/\s/.test(String.fromCharCode(b[pos]))) s += String.fromCharCode(b[pos++]);
    tok.push(s);
  }
  pos++;
  const w = Number(tok[1]);
  const h = Number(tok[2]);
  if (tok[0] !== 'P6' || tok[3] !== '255' || !(w > 0) || !(h > 0) || b.length - pos < w * h * 3)
    throw new Error(`${file}: not a binary 8-bit PPM`);
  return { w, h, data: new Uint8Array(b.buffer, b.byteOffset + pos, w * h * 3) };
}

function writePPM(file, img) {
  fs.writeFileSync(file, Buffer.concat([Buffer.from(`P6\n${img.w} ${img.h}\n255\n`), Buffer.from(img.data)]));
}

// The square box [x, y, w, h] of img resampled to size x size (bilinear; outside the picture
// the nearest edge pixel): the face in face coordinates. Float RGB, planar: 3 * size * size.
function cropResize(img, box, size) {
  const [bx, by, bw, bh] = box;
  const out = new Float32Array(3 * size * size);
  const plane = size * size;
  for (let y = 0; y < size; y++) {
    const sy = Math.min(Math.max(by + ((y + 0.5) * bh) / size - 0.5, 0), img.h - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, img.h - 1);
    const fy = sy - y0;
    for (let x = 0; x < size; x++) {
      const sx = Math.min(Math.max(bx + ((x + 0.5) * bw) / size - 0.5, 0), img.w - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, img.w - 1);
      const fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const p = (yy, xx) => img.data[(yy * img.w + xx) * 3 + c];
        const top = p(y0, x0) * (1 - fx) + p(y0, x1) * fx;
        const bottom = p(y1, x0) * (1 - fx) + p(y1, x1) * fx;
        out[c * plane + y * size + x] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

// A (2r+1)^2 box blur of one size x size plane, edges clamped.
function boxBlur(p, size, r) {
  const tmp = new Float32Array(size * size);
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += p[y * size + Math.min(Math.max(x + k, 0), size - 1)];
      tmp[y * size + x] = s / (2 * r + 1);
    }
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += tmp[Math.min(Math.max(y + k, 0), size - 1) * size + x];
      out[y * size + x] = s / (2 * r + 1);
    }
  return out;
}

// sRGB (0..255) -> CIE L*a*b* (D65).
function lab(r, g, b) {
  const lin = (c) => (c <= 10.31475 ? c / 3294.6 : Math.pow((c / 255 + 0.055) / 1.055, 2.4));
  const R = lin(r);
  const G = lin(g);
  const B = lin(b);
  const f = (t) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  const x = f((0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047);
  const y = f(0.2126 * R + 0.7152 * G + 0.0722 * B);
  const z = f((0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883);
  return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
}

const ARTEFACT_SIZE = 64; // face coordinates: the inner face box at 64 x 64
const ARTEFACT_COLOUR = 10; // a colour change (a*, b*) above this is a blotch, not a tint
const ARTEFACT_LIGHTNESS = 25; // a lightness change above this is a burn or a pale patch

// The artefact score of one changed face: inCrop and outCrop are the same inner face box of the
// input and the output in face coordinates (cropResize at ARTEFACT_SIZE). The change is taken
// in CIE L*a*b* and averaged over 3 x 3 patches (of 64 x 64); a patch is broken when its colour
// change departs from the face's median change by more than 10 (the distance in a*, b*: a new
// red, brown or green patch; a tint of the whole face is not one) or its lightness change by
// more than 25 (black blotches, burns, pale patches, not the shading of a wrinkle). The score
// is the share of the face that is broken, in percent:
//   score = 100 * |{patches: |d(a*, b*) - median| > 10 or |d L* - median| > 25}| / |face|
// with the two parts (colour, lightness) also returned.
function artefactScore(inCrop, outCrop, size = ARTEFACT_SIZE) {
  const plane = size * size;
  const dL = new Float32Array(plane);
  const dA = new Float32Array(plane);
  const dB = new Float32Array(plane);
  for (let i = 0; i < plane; i++) {
    const x = lab(inCrop[i], inCrop[plane + i], inCrop[2 * plane + i]);
    const y = lab(outCrop[i], outCrop[plane + i], outCrop[2 * plane + i]);
    dL[i] = y[0] - x[0];
    dA[i] = y[1] - x[1];
    dB[i] = y[2] - x[2];
  }
  const bL = boxBlur(dL, size, 1);
  const bA = boxBlur(dA, size, 1);
  const bB = boxBlur(dB, size, 1);
  // Against the face's median change: a tint or a lightening of the whole face is no blotch.
  const mL = median(bL);
  const mA = median(bA);
  const mB = median(bB);
  let colour = 0;
  let lightness = 0;
  let broken = 0;
  for (let i = 0; i < plane; i++) {
    const c = Math.hypot(bA[i] - mA, bB[i] - mB) > ARTEFACT_COLOUR;
    const l = Math.abs(bL[i] - mL) > ARTEFACT_LIGHTNESS;
    colour += c;
    lightness += l;
    broken += c || l;
  }
  return { score: (100 * broken) / plane, colour: (100 * colour) / plane, lightness: (100 * lightness) / plane };
}

// Flicker of a face over consecutive frames, in face coordinates: frames[t] = {inCrop,
// outCrop} of the same face. change: the mean absolute difference, per pixel and channel, of
// the change (out - in) between one frame and the next; input: the same for the input's own
// pixels. A still face with a constant change scores 0; a moving face whose crops follow it
// counts no motion.
function flicker(frames) {
  let change = 0;
  let input = 0;
  let n = 0;
  for (let t = 1; t < frames.length; t++) {
    const a = frames[t - 1];
    const b = frames[t];
    for (let i = 0; i < a.inCrop.length; i++) {
      change += Math.abs(b.outCrop[i] - b.inCrop[i] - (a.outCrop[i] - a.inCrop[i]));
      input += Math.abs(b.inCrop[i] - a.inCrop[i]);
    }
    n += a.inCrop.length;
  }
  return n ? { change: change / n, input: input / n } : { change: NaN, input: NaN };
}

// Boxes [x, y, w, h] of a track smoothed over time (a centred moving average of 2r+1), so the
// crops follow the face without the detector's jitter.
function smoothBoxes(boxes, r = 2) {
  return boxes.map((_, t) => {
    const s = [0, 0, 0, 0];
    let n = 0;
    for (let k = Math.max(0, t - r); k <= Math.min(boxes.length - 1, t + r); k++) {
      for (let j = 0; j < 4; j++) s[j] += boxes[k][j];
      n++;
    }
    return s.map((v) => v / n);
  });
}

// The face box as a square around its centre, the side `scale` times the longer side
// (INNER: the inner face, cheeks to chin, where the change is judged).
const INNER = 0.8;
function squareBox(box, scale = INNER) {
  const [x, y, w, h] = box;
  const side = Math.max(w, h) * scale;
  return [x + w / 2 - side / 2, y + h / 2 - side / 2, side, side];
}

function iou(a, b) {
  const x1 = Math.max(a[0], b[0]);
  const y1 = Math.max(a[1], b[1]);
  const x2 = Math.min(a[0] + a[2], b[0] + b[2]);
  const y2 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

// k frame numbers spread evenly over n frames (the middle of each of k equal parts).
function sampleFrames(n, k) {
  const out = [];
  for (let i = 0; i < Math.min(n, k); i++) out.push(Math.floor(((i + 0.5) * n) / Math.min(n, k)));
  return out;
}

// A run of `length` consecutive frames from the middle of n.
function middleRun(n, length) {
  const len = Math.min(n, length);
  const start = Math.floor((n - len) / 2);
  return Array.from({ length: len }, (_, i) => start + i);
}

function mean(v) {
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}

function median(v) {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// One CSV line (RFC 4180 quoting where needed; numbers to 4 decimals).
function csvLine(values) {
  return values
    .map((v) => {
      if (typeof v === 'number') return Number.isFinite(v) ? String(Math.round(v * 1e4) / 1e4) : '';
      const s = v === undefined || v === null ? '' : String(v);
      return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    })
    .join(',');
}

module.exports = {
  readPPM, writePPM, cropResize, lab, boxBlur, artefactScore, flicker, smoothBoxes, squareBox,
  iou, sampleFrames, middleRun, mean, median, csvLine, ARTEFACT_SIZE,
};
