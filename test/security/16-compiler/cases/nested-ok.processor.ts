// @ts-nocheck -- processor of the adversarial suite (test/security): ordinary nesting, brackets in strings,
// templates, comments and regular expressions must not count.
import data from './data.json';
const tricky = '((((' + "[[[[" + `{{{{ ${'(('} ` + /[(((]/.source; // ((((((
/* [[[[[[[[[[ */
export default { async runWorkflow() { return `${data.a[0][0].b}:${tricky.length}`; } };
