import { defineExampleSuites } from './example-suite.js';

defineExampleSuites('hono');
