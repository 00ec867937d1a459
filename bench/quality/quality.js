// make quality, the judging half: reads the pictures run.sh made (inputs and ageshift's
// outputs, as PPM, listed in WORK/split.tsv, photos.tsv and clips.tsv), has the estimator
// (estimator.js) judge each face's age and identity, measures artefacts and flicker
// (metrics.js), and writes the report (stdout and OUT/report.txt), OUT/faces.csv,
// OUT/clips.csv, OUT/photos.csv and the contact sheets under OUT/sheets/.
//   usage: node quality.js WORK OUT
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const m = require('./metrics.js');
const { createEstimator, SAME_PERSON } = require('./estimator.js');

const CROP = m.ARTEFACT_SIZE;
const SHEET_TILE = 200;
const DIRECTIONS = ['old', 'young'];

function readTsv(file) {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split('\t'));
}

// The largest face of a picture's estimate, or null.
function largest(faces) {
  return faces.reduce((best, f) => (!best || f.box[2] * f.box[3] > best.box[2] * best.box[3] ? f : best), null);
}

// The face of `faces` that overlaps box best (IoU at least 0.3), or null.
function matching(faces, box) {
  let best = null;
  let bestIou = 0.3;
  for (const f of faces) {
    const v = m.iou(f.box, box);
    if (v >= bestIou) {
      best = f;
      bestIou = v;
    }
  }
  return best;
}

// Whether ageshift changed the face: its crop differs by more than a level on average.
function changedCrop(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length > 0.5;
}

// A face crop as an 8-bit picture, for the sheets.
function cropImage(img, box, size) {
  const c = m.cropResize(img, box, size);
  const plane = size * size;
  const data = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++)
    for (let k = 0; k < 3; k++) data[i * 3 + k] = Math.max(0, Math.min(255, Math.round(c[k * plane + i])));
  return { w: size, h: size, data };
}

// One face judged in an input picture and in an output of one direction (which may be of
// another size: translate writes the model's).
function judge(est, face, inImg, outImg, outFaces) {
  const box = m.squareBox(face.box);
  const sx = outImg.w / inImg.w;
  const sy = outImg.h / inImg.h;
  const scale = (b) => [b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy];
  const inCrop = m.cropResize(inImg, box, CROP);
  const outCrop = m.cropResize(outImg, scale(box), CROP);
  const match = matching(outFaces, scale(face.box));
  // A face the judge finds but gives no age counts as not found.
  const out = match && Number.isFinite(match.age) && Number.isFinite(face.age) ? match : null;
  const art = m.artefactScore(inCrop, outCrop);
  return {
    ageIn: face.age,
    ageOut: out ? out.age : NaN,
    shift: out ? out.age - face.age : NaN,
    similarity: out ? est.similarity(face.descriptor, out.descriptor) : NaN,
    found: !!out, // the estimator still sees a face there
    artefact: art.score,
    colour: art.colour,
    lightness: art.lightness,
    changed: changedCrop(inCrop, outCrop),
    box,
    outBox: scale(box),
  };
}

async function main() {
  const [work, outDir] = process.argv.slice(2);
  if (!work || !outDir) {
    console.error('usage: node quality.js WORK OUT');
    process.exit(2);
  }
  fs.mkdirSync(path.join(outDir, 'sheets'), { recursive: true });
  const t0 = Date.now();
  const est = await createEstimator();
  const faceRows = []; // every judged face: the CSV and the tables
  const log = (s) => process.stderr.write(`quality: ${s} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);

  // ---- the test split: crops through `ageshift translate`, both directions ----
  const split = readTsv(path.join(work, 'split.tsv'));
  const sanity = [];
  for (const [domain, label, name, inPath] of split) {
    const inImg = m.readPPM(inPath);
    const face = largest(await est.faces(inImg));
    if (!face) {
      sanity.push({ domain, label: Number(label), age: NaN });
      continue;
    }
    sanity.push({ domain, label: Number(label), age: face.age });
    for (const dir of DIRECTIONS) {
      const outImg = m.readPPM(path.join(work, 'split', dir, `${name}.ppm`));
      const j = judge(est, face, inImg, outImg, await est.faces(outImg));
      faceRows.push({ set: 'test split', kind: domain, name, frame: '', dir, label: Number(label), ...j, inPath, outPath: path.join(work, 'split', dir, `${name}.ppm`) });
    }
  }
  if (split.length) log(`test split: ${split.length} faces`);

  // ---- photos: `ageshift image`, both directions ----
  const photoRows = [];
  for (const [name, kind, present, changedOld, changedYoung] of readTsv(path.join(work, 'photos.tsv'))) {
    const dir0 = path.join(work, 'photos', name);
    const inImg = m.readPPM(path.join(dir0, 'in.ppm'));
    const faces = await est.faces(inImg);
    for (const dir of DIRECTIONS) {
      const outImg = m.readPPM(path.join(dir0, `${dir}.ppm`));
      const outFaces = await est.faces(outImg);
      for (const face of faces) {
        const j = judge(est, face, inImg, outImg, outFaces);
        if (j.changed) faceRows.push({ set: 'photo', kind, name, frame: '', dir, label: NaN, ...j, inPath: path.join(dir0, 'in.ppm'), outPath: path.join(dir0, `${dir}.ppm`) });
      }
    }
    photoRows.push({ name, kind, present: Number(present), seen: faces.length, changedOld: Number(changedOld), changedYoung: Number(changedYoung) });
  }
  if (photoRows.length) log(`photos: ${photoRows.length}`);

  // ---- clips: `ageshift convert` (lossless), a run of consecutive frames ----
  const clipRows = [];
  for (const [name, dir0, sampled] of readTsv(path.join(work, 'clips.tsv'))) {
    const frames = fs.readdirSync(path.join(dir0, 'in')).filter((f) => f.endsWith('.ppm')).sort();
    const inImgs = frames.map((f) => m.readPPM(path.join(dir0, 'in', f)));
    // The face followed through the run: the largest face of each frame, its box smoothed.
    const track = [];
    for (const img of inImgs) track.push(largest(await est.faces(img)));
    const seen = track.filter(Boolean).length;
    let last = track.find(Boolean);
    const boxes = track.map((f) => (last = f || last) && last.box);
    const smooth = last ? m.smoothBoxes(boxes) : [];
    const sampledSet = new Set(m.sampleFrames(frames.length, Number(sampled)));
    const row = { name, dir0, frameFiles: frames, sampled: Number(sampled), frames: frames.length, seen };
    for (const dir of DIRECTIONS) {
      const seq = [];
      let changed = 0;
      const arts = [];
      for (let t = 0; t < frames.length && last; t++) {
        const outImg = m.readPPM(path.join(dir0, dir, frames[t]));
        const box = m.squareBox(smooth[t]);
        const inCrop = m.cropResize(inImgs[t], box, CROP);
        const outCrop = m.cropResize(outImg, box, CROP);
        seq.push({ inCrop, outCrop });
        const isChanged = changedCrop(inCrop, outCrop);
        changed += isChanged;
        if (isChanged) arts.push(m.artefactScore(inCrop, outCrop).score);
        if (sampledSet.has(t) && track[t]) {
          const j = judge(est, track[t], inImgs[t], outImg, await est.faces(outImg));
          if (j.changed) faceRows.push({ set: 'clip', kind: 'clip', name, frame: frames[t].replace('.ppm', ''), dir, label: NaN, ...j, inPath: path.join(dir0, 'in', frames[t]), outPath: path.join(dir0, dir, frames[t]) });
        }
      }
      const fl = m.flicker(seq);
      row[dir] = { changed, flicker: fl.change, inputFlicker: fl.input, artefact: m.mean(arts) };
    }
    clipRows.push(row);
    log(`clip ${name}: ${frames.length} frames`);
  }

  // ---- the numbers ----
  const lines = [];
  const say = (s = '') => lines.push(s);
  const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : '-');
  const f2 = (v) => (Number.isFinite(v) ? v.toFixed(2) : '-');
  const pct = (v) => (Number.isFinite(v) ? `${(100 * v).toFixed(0)}%` : '-');
  say(`make quality: ${new Date().toISOString()}; estimator Human ${est.version} (TensorFlow.js, WebAssembly)`);
  if (sanity.length) {
    const ok = sanity.filter((s) => Number.isFinite(s.age));
    const mae = m.mean(ok.map((s) => Math.abs(s.age - s.label)));
    say();
    say('The estimator on the test split, against the ages in the file names:');
    say(`  faces ${sanity.length}, found ${ok.length}; mean absolute error ${f1(mae)} years`);
    for (const d of ['young', 'old']) {
      const s = ok.filter((x) => x.domain === d);
      say(`  ${d.padEnd(5)}: labels mean ${f1(m.mean(s.map((x) => x.label)))}, estimated mean ${f1(m.mean(s.map((x) => x.age)))} (${s.length} faces)`);
    }
    // What a perfect change would read: a young face turned into one like the old test faces
    // moves, by this estimator, by the gap between the two domains' estimates, not their labels'.
    const est = (d) => m.mean(ok.filter((x) => x.domain === d).map((x) => x.age));
    const lab = (d) => m.mean(ok.filter((x) => x.domain === d).map((x) => x.label));
    say(`  the gap between the domains: estimated ${f1(est('old') - est('young'))} years (labels ${f1(lab('old') - lab('young'))}): what young to old would read if it made the young faces look like the old ones`);
  }
  say();
  say('Age shift (estimated age out - in), identity (descriptor similarity; same person above 0.5) and artefacts:');
  const header = `  ${'set'.padEnd(12)}${'direction'.padEnd(17)}${'faces'.padStart(6)}${'mean'.padStart(7)}${'median'.padStart(8)}${'right way'.padStart(10)}${'<40:+ / >50:-'.padStart(14)}${'similar'.padStart(9)}${'same'.padStart(6)}${'lost'.padStart(6)}${'artefact'.padStart(9)}`;
  say(header);
  const groups = [];
  for (const set of ['test split', 'photo', 'clip'])
    for (const dir of DIRECTIONS) {
      const rows = faceRows.filter((r) => r.set === set && r.dir === dir);
      if (!rows.length) continue;
      const found = rows.filter((r) => r.found);
      const shifts = found.map((r) => r.shift);
      const right = found.filter((r) => (dir === 'old' ? r.shift > 0 : r.shift < 0)).length / found.length;
      const focus = found.filter((r) => (dir === 'old' ? r.ageIn < 40 : r.ageIn > 50)).map((r) => r.shift);
      const sims = found.map((r) => r.similarity);
      const g = {
        set, dir, n: rows.length, mean: m.mean(shifts), median: m.median(shifts), right, focus: m.mean(focus), nFocus: focus.length,
        similarity: m.mean(sims), same: sims.filter((s) => s > SAME_PERSON).length / sims.length, lost: 1 - found.length / rows.length,
        artefact: m.mean(rows.map((r) => r.artefact)),
      };
      groups.push(g);
      say(`  ${set.padEnd(12)}${(dir === 'old' ? 'older' : 'younger').padEnd(17)}${String(g.n).padStart(6)}${f1(g.mean).padStart(7)}${f1(g.median).padStart(8)}${pct(g.right).padStart(10)}${`${f1(g.focus)} (${g.nFocus})`.padStart(14)}${f2(g.similarity).padStart(9)}${pct(g.same).padStart(6)}${pct(g.lost).padStart(6)}${f1(g.artefact).padStart(9)}`);
    }
  say('  (<40:+ / >50:-: the mean shift of older on faces estimated under 40, of younger on faces over 50;');
  say('   lost: the estimator finds no face where the input had one)');
  if (clipRows.length) {
    say();
    say('Clips: a run of consecutive frames; flicker is the mean change of (out - in) from frame to frame in face');
    say('coordinates, beside the input\'s own change there; found: frames whose face was changed.');
    say(`  ${'clip'.padEnd(16)}${'frames'.padStart(7)}${'seen'.padStart(6)}${'older: found'.padStart(14)}${'artefact'.padStart(9)}${'flicker'.padStart(9)}${'younger: found'.padStart(16)}${'artefact'.padStart(9)}${'flicker'.padStart(9)}${'input'.padStart(7)}`);
    for (const c of clipRows)
      say(`  ${c.name.padEnd(16)}${String(c.frames).padStart(7)}${String(c.seen).padStart(6)}${pct(c.old.changed / c.frames).padStart(14)}${f1(c.old.artefact).padStart(9)}${f2(c.old.flicker).padStart(9)}${pct(c.young.changed / c.frames).padStart(16)}${f1(c.young.artefact).padStart(9)}${f2(c.young.flicker).padStart(9)}${f2(c.old.inputFlicker).padStart(7)}`);
  }
  if (photoRows.length) {
    say();
    say('Photos: faces present (counted by hand, faces_present.tsv), found by the estimator, changed by ageshift:');
    // Pictures given with INPUTS= are not in the table: their faces are not counted ('?').
    for (const kind of ['portrait', 'group', 'painting', 'other', 'animal', 'unlisted']) {
      const p = photoRows.filter((r) => r.kind === kind);
      if (!p.length) continue;
      const sum = (k) => p.reduce((a, r) => a + r[k], 0);
      const present = p.some((r) => r.present < 0) ? '?' : sum('present');
      say(`  ${kind.padEnd(10)} ${String(p.length).padStart(3)} pictures: present ${present}, changed older ${sum('changedOld')}, younger ${sum('changedYoung')}` + (kind === 'animal' ? `  (animals changed: ${p.filter((r) => r.changedOld + r.changedYoung > 0).map((r) => r.name).join(' ') || 'none'})` : ''));
    }
    const g = photoRows.find((r) => r.name === 'group_t1.jpg');
    if (g) say(`  group_t1.jpg: ${g.changedOld} of ${g.present} faces changed older, ${g.changedYoung} younger`);
  }
  say();
  say('Artefact score: the share of the inner face (in face coordinates, 64 x 64) that is broken, in');
  say('percent: 3 x 3 patches whose change departs from the face\'s median change by more than 10 in');
  say('CIE a*b* (a new red, brown or green: blotches, smears) or by more than 25 in L* (black blotches,');
  say('burns, pale patches). A tint of the whole face and the wrinkle shading of age stay below both.');
  const report = lines.join('\n') + '\n';
  process.stdout.write(report);
  fs.writeFileSync(path.join(outDir, 'report.txt'), report);

  // ---- CSVs ----
  const faceCsv = [m.csvLine(['set', 'kind', 'name', 'frame', 'direction', 'label_age', 'age_in', 'age_out', 'shift', 'similarity', 'same_person', 'artefact', 'artefact_colour', 'artefact_lightness'])];
  for (const r of faceRows)
    faceCsv.push(m.csvLine([r.set, r.kind, r.name, r.frame, r.dir, r.label, r.ageIn, r.ageOut, r.shift, r.similarity, r.found ? (r.similarity > SAME_PERSON ? 1 : 0) : '', r.artefact, r.colour, r.lightness]));
  fs.writeFileSync(path.join(outDir, 'faces.csv'), faceCsv.join('\n') + '\n');
  const clipCsv = [m.csvLine(['clip', 'frames', 'seen', 'direction', 'changed', 'artefact', 'flicker', 'input_flicker'])];
  for (const c of clipRows)
    for (const dir of DIRECTIONS) clipCsv.push(m.csvLine([c.name, c.frames, c.seen, dir, c[dir].changed, c[dir].artefact, c[dir].flicker, c[dir].inputFlicker]));
  fs.writeFileSync(path.join(outDir, 'clips.csv'), clipCsv.join('\n') + '\n');
  const photoCsv = [m.csvLine(['photo', 'kind', 'present', 'estimator_found', 'changed_older', 'changed_younger'])];
  for (const p of photoRows) photoCsv.push(m.csvLine([p.name, p.kind, p.present, p.seen, p.changedOld, p.changedYoung]));
  fs.writeFileSync(path.join(outDir, 'photos.csv'), photoCsv.join('\n') + '\n');

  // ---- contact sheets: original | older | younger ----
  const sheets = path.join(outDir, 'sheets');
  const montage = (files, cols, out, title) => {
    if (!files.length) return;
    execFileSync('montage', [...files, '-tile', `${cols}x`, '-geometry', `${SHEET_TILE}x${SHEET_TILE}+2+2`, '-title', title, out]);
  };
  for (const { name, dir0, frameFiles, sampled } of clipRows) {
    const pick = m.sampleFrames(frameFiles.length, Math.min(4, sampled));
    montage(pick.flatMap((t) => ['in', 'old', 'young'].map((d) => path.join(dir0, d, frameFiles[t]))), 3, path.join(sheets, `clip_${name}.png`), `${name}: original | older | younger`);
  }
  const byKind = {};
  for (const p of photoRows) (byKind[p.kind] = byKind[p.kind] || []).push(p.name);
  for (const [kind, names] of Object.entries(byKind))
    montage(names.flatMap((n) => ['in', 'old', 'young'].map((d) => path.join(work, 'photos', n, `${d}.ppm`))), 3, path.join(sheets, `photos_${kind}.png`), `${kind}: original | older | younger`);
  // The worst faces first: in | out crops of the highest artefact scores, per direction.
  const crops = path.join(work, 'crops');
  fs.mkdirSync(crops, { recursive: true });
  for (const dir of DIRECTIONS) {
    const worst = faceRows.filter((r) => r.dir === dir).sort((a, b) => b.artefact - a.artefact).slice(0, 16);
    const files = [];
    worst.forEach((r, i) => {
      for (const [k, file, box] of [['in', r.inPath, r.box], ['out', r.outPath, r.outBox]]) {
        const f = path.join(crops, `${dir}_${i}_${k}.ppm`);
        m.writePPM(f, cropImage(m.readPPM(file), box, 160));
        files.push(f);
      }
    });
    montage(files, 8, path.join(sheets, `worst_${dir === 'old' ? 'older' : 'younger'}.png`), `highest artefact scores, ${dir === 'old' ? 'older' : 'younger'}: input | output`);
  }
  log(`done: ${path.join(outDir, 'report.txt')}, faces.csv, clips.csv, photos.csv, sheets/`);
}

main().catch((e) => {
  console.error(`quality: ${e.stack || e}`);
  process.exit(1);
});
