/** Express 4, installed as `express4` (npm alias) for the integration test; typed as Express 5's API it shares. */
declare module 'express4' {
  import express from 'express';
  export default express;
}
