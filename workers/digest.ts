// piscina task: digest ring ranges of one actor's env, opened read-only.
import { digestRanges } from '../src/antientropy/digest-task.js';
export default digestRanges;
