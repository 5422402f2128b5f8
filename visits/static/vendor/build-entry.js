// Bundle entry for 요있다's offline verifier: exposes noble-curves' ed25519 as the global `nobleCurves`.
export { ed25519 } from '@noble/curves/ed25519.js';
