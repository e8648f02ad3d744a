// Test image kskup-test/exit:1: prints a line, then exits with EXIT_CODE
// (default 1) after EXIT_AFTER_MS (default 200): a container that crashes.
const code = Number(process.env.EXIT_CODE ?? 1);
console.log(`exit: exiting with ${code}`);
setTimeout(() => process.exit(code), Number(process.env.EXIT_AFTER_MS ?? 200));
