// Loaded with Node's own `require`, outside Vite's module runner, so that this `import()` goes to
// Node's ESM loader and a built file under dist/ is loaded exactly as an application loads it.
'use strict';

/** @param {string} specifier @returns {Promise<unknown>} */
module.exports = (specifier) => import(specifier);
