// Placeholder entry until the CLI lands: prints usage so `npm start` works on a fresh clone.
console.log('Usage: ferrymq <command>\n\nThe broker and CLI are being built; see README.md.');
