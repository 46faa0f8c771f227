// cairn/level: the abstract-level adapter (`import { CairnLevel } from 'cairn/level'`).
export { CairnLevel, type CairnLevelOptions } from './cairn-level.js';
