// Preloaded into every KillableWorker with --require, before the worker's own
// code: registers the thread so it is killable from its first line.
import './thread';
