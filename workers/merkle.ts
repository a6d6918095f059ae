export { default } from '../src/antientropy/merkle-task.js';
