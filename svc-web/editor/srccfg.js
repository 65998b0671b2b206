// "srccfg": the Source engine's console/cfg language (server.cfg, exec'd files). A cfg is
// statements separated by newlines or ';': a cvar or command name, then its arguments
// (bare words or "quoted" strings, no escapes), with '//' comments to the end of the line.
import { StreamLanguage } from '@codemirror/language';
import { CVARS, COMMANDS, KEYWORDS } from './cvars.js';

const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?=[\s;"]|$)/;

const parser = {
  name: 'srccfg',
  // start: the next word is a statement's name (the first on a line or after ';').
  startState: () => ({ start: true }),
  copyState: (s) => ({ start: s.start }),
  token(stream, state) {
    if (stream.sol()) state.start = true;
    if (stream.eatSpace()) return null;
    if (stream.match('//')) {
      stream.skipToEnd();
      return 'comment';
    }
    if (stream.eat(';')) {
      state.start = true;
      return 'punctuation';
    }
    const start = state.start;
    state.start = false;
    if (stream.eat('"')) {
      // The engine ends a string at the closing quote or at the end of the line.
      stream.match(/^[^"]*"?/);
      return 'string';
    }
    if (!start && stream.match(NUMBER)) return 'number';
    // A word ends at whitespace, ';', a quote or a comment.
    stream.match(/^(?:[^\s;"/]|\/(?!\/))+/);
    if (!start) return null;
    return KEYWORDS.has(stream.current().toLowerCase()) ? 'keyword' : 'propertyName';
  },
  languageData: { commentTokens: { line: '//' }, autocomplete: completeName },
};

const OPTIONS = [
  ...CVARS.map(([label, info]) => ({ label, info, type: 'variable' })),
  ...COMMANDS.map(([label, info]) => ({ label, info, type: KEYWORDS.has(label) ? 'keyword' : 'function' })),
];

// Completes cvar and command names where a statement starts: at the start of a line or
// after ';', not in a comment or a string's arguments.
function completeName(ctx) {
  const word = ctx.matchBefore(/[\w+-]*/);
  const line = ctx.state.doc.lineAt(ctx.pos);
  const before = line.text.slice(0, word.from - line.from);
  if (before.includes('//') || !/(?:^|;)\s*$/.test(before)) return null;
  if (word.from === word.to && !ctx.explicit) return null;
  return { from: word.from, options: OPTIONS, validFor: /^[\w+-]*$/ };
}

export const srccfg = StreamLanguage.define(parser);
