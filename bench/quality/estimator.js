// The independent judge of make quality: Human (github.com/vladmandic/human, MIT), whose
// face pipeline detects faces (BlazeFace), and estimates each one's age and a 1024-number face
// descriptor (its "faceres" model), on TensorFlow.js with the WebAssembly backend, on the CPU.
// Everything is read from node_modules: the models and the .wasm binary come from the disk,
// and any other fetch is refused, so nothing is downloaded at run time.
'use strict';

const fs = require('fs');
const path = require('path');

// Human's own rule: a similarity of its descriptors above 0.5 is the same person
// (src/face/match.ts: "normalizes results to similarity above 0.5 can be considered a match").
const SAME_PERSON = 0.5;

globalThis.fetch = async (url) => {
  const u = String(url && url.url ? url.url : url);
  if (!u.startsWith('file://')) throw new Error(`make quality downloads nothing (asked for ${u})`);
  return new Response(fs.readFileSync(new URL(u)));
};

const modules = path.join(__dirname, 'node_modules');
// By file name: the package's "exports" map spells this entry without its "./".
const { Human } = require(path.join(modules, '@vladmandic/human/dist/human.node-wasm.js'));

async function createEstimator() {
  const human = new Human({
    backend: 'wasm',
    wasmPath: `file://${path.join(modules, '@tensorflow/tfjs-backend-wasm/dist')}/`,
    modelBasePath: `file://${path.join(modules, '@vladmandic/human/models')}/`,
    debug: false,
    async: false,
    cacheSensitivity: 0, // every picture judged on its own, none reused from the one before
    face: {
      enabled: true,
      detector: { rotation: true, maxDetected: 20, minConfidence: 0.4, return: false },
      mesh: { enabled: true },
      iris: { enabled: false },
      description: { enabled: true },
      emotion: { enabled: false },
      antispoof: { enabled: false },
      liveness: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
    filter: { enabled: false },
  });
  await human.load();
  await human.warmup();

  // The faces of a picture ({w, h, data} RGB): box [x, y, w, h] in pixels, age in years,
  // descriptor, detection score.
  async function faces(img) {
    const t = human.tf.tensor3d(img.data, [img.h, img.w, 3], 'int32');
    const r = await human.detect(t);
    t.dispose();
    return r.face.map((f) => ({ box: f.box, age: f.age, descriptor: f.embedding, score: f.score }));
  }

  const similarity = (a, b) => human.match.similarity(a, b);
  return { faces, similarity, version: human.version };
}

module.exports = { createEstimator, SAME_PERSON };
