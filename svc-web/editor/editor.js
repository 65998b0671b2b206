/*! The bundle /static/editor.js holds CodeMirror 6 (@codemirror/*, @lezer/*, style-mod,
 * w3c-keyname, crelt, @marijn/find-cluster-break), under this licence:
 *
 * MIT License
 *
 * Copyright (C) 2018-2021 by Marijn Haverbeke <marijn@haverbeke.berlin> and others
 *
 * Permission is hereby granted, free of charge, to any person obtaining a copy
 * of this software and associated documentation files (the "Software"), to deal
 * in the Software without restriction, including without limitation the rights
 * to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 * copies of the Software, and to permit persons to whom the Software is
 * furnished to do so, subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in
 * all copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 * FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 * AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 * LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 * OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
 * THE SOFTWARE.
 */
// (A '/*!' comment: esbuild keeps it in the minified bundle, since the packages' own
// sources carry no licence comment and MIT asks for the notice in every copy.)
// The web UI's code editor: CodeMirror 6 over a <textarea data-editor="bash|srccfg">. The
// textarea stays in the form, hidden, and gets every change, so a plain submit, FormData
// and htmx all post what the editor shows; without JS the textarea is simply the field.
// Bundled by esbuild (svc-web/webd.mk) into /static/editor.js, which only pages with an
// editor load (page_begin, or left4me.js when htmx swaps such a page in).
import { EditorState, Compartment } from '@codemirror/state';
import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection }
  from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { HighlightStyle, syntaxHighlighting, bracketMatching } from '@codemirror/language';
import { autocompletion, completionKeymap } from '@codemirror/autocomplete';
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search';
import { classHighlighter, tags } from '@lezer/highlight';
import { StyleModule } from 'style-mod';
import { srccfg } from './srccfg.js';
import { bash } from './bash.js';

// CSP: style-mod (CodeMirror's CSS-in-JS) puts its rules in a <style> element when the
// root is a document, and `default-src 'self'` blocks that element (no nonce here: the
// pages are not templated per request for it). Constructed stylesheets are not subject to
// style-src, and style-mod already uses them for shadow roots, so the document is handed
// to it as a root without `head`: its rules land in document.adoptedStyleSheets.
const docRoot = {
  ownerDocument: document,
  get adoptedStyleSheets() { return document.adoptedStyleSheets; },
  set adoptedStyleSheets(v) { document.adoptedStyleSheets = v; },
};
const mountStyles = StyleModule.mount;
StyleModule.mount = (root, modules, options) =>
  mountStyles.call(StyleModule, root === document ? docRoot : root, modules, options);

// Colours are left4me.css's tokens, so light and dark follow prefers-color-scheme with the
// rest of the page; the compartment only tells CodeMirror which of its own defaults to use.
const theme = (dark) => EditorView.theme({
  '&': {
    color: 'var(--text)', backgroundColor: 'var(--surface)', border: '1px solid var(--border)',
    borderRadius: 'var(--radius-sm)', maxHeight: '36em',
  },
  '&.cm-focused': { outline: '2px solid var(--focus)', outlineOffset: '1px' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.5' },
  '.cm-content': { minHeight: '10em', caretColor: 'var(--text)' },
  '.cm-gutters': { backgroundColor: 'var(--surface-2)', color: 'var(--muted)', borderRight: '1px solid var(--border)' },
  // The line's tint is see-through so the selection layer under the text shows; the
  // gutter's is opaque, since a long line scrolls under it.
  '.cm-activeLine': { backgroundColor: 'color-mix(in srgb, var(--surface-2) 60%, transparent)' },
  '.cm-activeLineGutter': { backgroundColor: 'color-mix(in srgb, var(--border) 60%, var(--surface-2))' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': {
    backgroundColor: 'color-mix(in srgb, var(--focus) 30%, transparent)',
  },
  '.cm-cursor': { borderLeftColor: 'var(--text)' },
  '&.cm-focused .cm-matchingBracket': { backgroundColor: 'color-mix(in srgb, var(--ok) 25%, transparent)' },
  '.cm-tooltip': { backgroundColor: 'var(--surface)', color: 'var(--text)', border: '1px solid var(--border)' },
  '.cm-tooltip-autocomplete > ul > li[aria-selected]': { backgroundColor: 'var(--accent)', color: 'var(--accent-text)' },
  '.cm-panels': { backgroundColor: 'var(--surface-2)', color: 'var(--text)' },
}, { dark });

const colours = HighlightStyle.define([
  { tag: tags.comment, color: 'var(--muted)', fontStyle: 'italic' },
  { tag: tags.keyword, color: 'var(--accent)', fontWeight: '600' },
  { tag: [tags.string, tags.special(tags.string)], color: 'var(--ok)' },
  { tag: tags.number, color: 'var(--warn)' },
  { tag: [tags.propertyName, tags.variableName, tags.special(tags.variableName)], color: 'var(--focus)' },
  { tag: [tags.operator, tags.punctuation], color: 'var(--muted)' },
]);

const dark = window.matchMedia('(prefers-color-scheme: dark)');
const languages = { bash, srccfg };
const views = new Map(); // textarea → { view, themes }

function mount(textarea, { mode } = {}) {
  if (views.has(textarea)) return views.get(textarea).view;
  const language = languages[mode || textarea.dataset.editor] || languages.srccfg;
  // Screen readers (and getByLabel) name the editor by the textarea's own <label>.
  const label = textarea.id && document.querySelector(`label[for="${CSS.escape(textarea.id)}"]`);
  if (label && !label.id) label.id = `${textarea.id}-label`;
  const themes = new Compartment();
  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), highlightActiveLine(), drawSelection(), history(),
        bracketMatching(), highlightSelectionMatches(), autocompletion(), language,
        syntaxHighlighting(colours), syntaxHighlighting(classHighlighter), themes.of(theme(dark.matches)),
        // Tab indents; Escape then Tab (CodeMirror's own escape hatch) moves focus on, so
        // keyboard users are never trapped.
        keymap.of([...completionKeymap, ...defaultKeymap, ...historyKeymap, ...searchKeymap, indentWithTab]),
        EditorView.contentAttributes.of(label ? { 'aria-labelledby': label.id } : { 'aria-label': textarea.name }),
        EditorView.updateListener.of((u) => { if (u.docChanged) textarea.value = u.state.doc.toString(); }),
      ],
    }),
  });
  textarea.after(view.dom);
  textarea.hidden = true;
  views.set(textarea, { view, themes });
  return view;
}

function unmount(textarea) {
  const e = views.get(textarea);
  if (!e) return;
  views.delete(textarea);
  textarea.value = e.view.state.doc.toString();
  e.view.destroy();
  e.view.dom.remove();
  textarea.hidden = false;
}

function mountAll(root) {
  if (root.matches?.('textarea[data-editor]')) mount(root);
  root.querySelectorAll?.('textarea[data-editor]').forEach((t) => mount(t));
}

// editor.js may be loaded twice (a full page load, then left4me.js after an htmx swap):
// the first copy's listeners serve every later swap.
if (!window.__editor) {
  window.__editor = { mount, unmount };
  dark.addEventListener('change', () => {
    for (const { view, themes } of views.values()) view.dispatch({ effects: themes.reconfigure(theme(dark.matches)) });
  });
  // A label click would focus the hidden textarea; focus the editor instead.
  document.addEventListener('click', (e) => {
    const label = e.target.closest?.('label[for]');
    const t = label && document.getElementById(label.htmlFor);
    if (t && views.has(t)) { e.preventDefault(); views.get(t).view.focus(); }
  });
  document.addEventListener('htmx:load', (e) => mountAll(e.detail?.elt || e.target));
  document.addEventListener('htmx:beforeCleanupElement', (e) => {
    if (views.has(e.target)) unmount(e.target);
  });
  // htmx snapshots the page for its history cache: without this, going back would restore
  // a dead copy of the editor's DOM next to a hidden textarea.
  document.addEventListener('htmx:beforeHistorySave', () => { for (const t of [...views.keys()]) unmount(t); });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => mountAll(document));
  else mountAll(document);
}
