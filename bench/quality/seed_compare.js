// make seed-compare, the judging half: the estimator's age for each of the seed's four example
// inputs, the seed's published output and ours, and both shifts side by side.
//   node bench/quality/seed_compare.js WORK   (WORK/NAME_{in,seed,ours}.ppm for the 4 names)
'use strict';
const path = require('path');
const m = require('./metrics');
const { createEstimator } = require('./estimator');

const NAMES = [
  ['y2o_1', 'young to old'],
  ['y2o_2', 'young to old'],
  ['o2y_1', 'old to young'],
  ['o2y_2', 'old to young'],
];

async function main() {
  const work = process.argv[2];
  const est = await createEstimator();
  const age = async (file) => {
    const faces = await est.faces(m.readPPM(path.join(work, file)));
    return faces.length ? faces.reduce((a, b) => (b.score > a.score ? b : a)).age : NaN;
  };
  const fmt = (v) => (Number.isFinite(v) ? v.toFixed(1) : '-');
  const sign = (v) => (Number.isFinite(v) ? (v >= 0 ? '+' : '') + v.toFixed(1) : '-');
  console.log('picture  direction      input   seed   ours   seed shift  our shift');
  for (const [name, dir] of NAMES) {
    const a = await age(`${name}_in.ppm`);
    const s = await age(`${name}_seed.ppm`);
    const o = await age(`${name}_ours.ppm`);
    console.log(
      `${name.padEnd(8)} ${dir.padEnd(13)} ${fmt(a).padStart(6)} ${fmt(s).padStart(6)} ` +
        `${fmt(o).padStart(6)} ${sign(s - a).padStart(12)} ${sign(o - a).padStart(10)}`,
    );
  }
  console.log(`(ages by ${est.version ? `Human ${est.version}` : 'Human'}, as make quality)`);
}

main().catch((e) => {
  console.error(`seed_compare: ${e.message}`);
  process.exit(1);
});
