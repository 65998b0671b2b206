// "bash": overlay build scripts. CodeMirror's legacy shell mode highlights; the completion
// offers the few words such a script is made of: where its files go ($OVERLAY, which
// mirrors the game root) and the tools the build sandbox has (docs/sandbox.md).
import { StreamLanguage } from '@codemirror/language';
import { shell } from '@codemirror/legacy-modes/mode/shell';

const WORDS = [
  ['$OVERLAY', 'variable', 'The overlay being built; mirrors the game root'],
  ['"$OVERLAY/left4dead2/cfg"', 'variable', 'Where cfg files go'],
  ['"$OVERLAY/left4dead2/addons"', 'variable', 'Where addons and VPKs go'],
  ['set -euo pipefail', 'keyword', 'Stop at the first failing command'],
  ['mkdir -p', 'function', 'Make a directory and its parents'],
  ['curl -fsSL --retry 3 -o', 'function', 'Download a file (fail on HTTP errors)'],
  ['tar -xzf', 'function', 'Unpack a .tar.gz'],
  ['unzip -o -q', 'function', 'Unpack a .zip, replacing files'],
  ['sha256sum -c', 'function', 'Check downloads against their checksums'],
  ['printf', 'function', 'Write text to a file, exactly'],
  ['echo', 'function', 'Print a line to the build log'],
];
const OPTIONS = WORDS.map(([label, type, info]) => ({ label, type, info }));

// A word (or a "$PATH) at the cursor, outside comments. Only words the typed text begins
// (not CodeMirror's fuzzy match): in a script any word may end a line, and Enter would
// otherwise take a far-fetched completion instead of the newline.
function completeWord(ctx) {
  const word = ctx.matchBefore(/["$]*[\w/-]*/);
  if (word.from === word.to && !ctx.explicit) return null;
  const line = ctx.state.doc.lineAt(ctx.pos);
  if (/(?:^|\s)#/.test(line.text.slice(0, word.from - line.from))) return null;
  const options = OPTIONS.filter((o) => o.label.startsWith(word.text));
  return options.length ? { from: word.from, options, filter: false } : null;
}

const language = StreamLanguage.define(shell);
export const bash = [language, language.data.of({ autocomplete: completeWord })];
