import { defineExampleSuites } from './example-suite.js';

// The Express example app built with Express 4 (`express4`, an npm alias): the same answers, and an
// async rejection (a store fault) reaches the error handler as a 503, neither a hung request nor a crash.
defineExampleSuites('express4');
