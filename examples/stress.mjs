// stress.mjs: the stress harness, from code
import { stress } from 'thread-kill/stress';
const report = await stress({ scenarios: ['busy-loop', 'regex'], rounds: 20 });
console.log(report.ok ? 'OK' : report.failures, report.rounds);   // OK 20
process.exitCode = report.ok ? 0 : 1;
