/** The `caa-v2` vectors S1 and S2 of `caa-http-signatures.md` §5: the protocol tests' one copy. */

export { CAA_V2_VECTORS, type CaaV2Vector } from '../protocol/http-signatures/spec-vectors.js';
