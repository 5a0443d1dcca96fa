#!/usr/bin/env node
// Entry point for `npx wardwatch` in a checkout: registers tsx so the TypeScript
// sources run as they are, with no build step on the Pi.
import { register } from 'tsx/esm/api';

register();
await import('../agent/src/cli.ts');
