import { getTemplate } from './templates';
import { PROVIDED_BY_BASE_IMAGE, renderImageTable, templateImagePackages } from './image-build';

describe('template image packages', () => {
  const rows = templateImagePackages({ typescript: '5.9.3' });

  it('installs each template debianPackages except what the base image provides', () => {
    const node = rows.find((r) => r.template === 'node');
    expect(node?.debian).toEqual([]);
    expect(getTemplate('node').debianPackages).toEqual(expect.arrayContaining([...PROVIDED_BY_BASE_IMAGE]));
    expect(rows.find((r) => r.template === 'python-data')?.debian).toContain('python3-numpy');
  });

  it('pins npm-preinstalled packages at the repository version, and refuses an unpinned one', () => {
    expect(rows.find((r) => r.template === 'typescript')?.npmGlobal).toEqual(['typescript@5.9.3']);
    expect(() => templateImagePackages({ typescript: '^5.9.3' })).toThrow(/no exact version/);
  });

  it('renders one tab-separated line per template, - for none', () => {
    const table = renderImageTable(rows);
    expect(table.split('\n')).toEqual(
      expect.arrayContaining([
        'node\texecutor-node\t-\t-',
        'typescript\texecutor-typescript\t-\ttypescript@5.9.3',
        expect.stringMatching(/^base\texecutor-template-base\t/),
      ]),
    );
    expect(rows.find((r) => r.template === 'code-interpreter-v1')?.npmGlobal).toEqual(['typescript@5.9.3']);
    expect(table.split('\n').filter((l) => l && !l.startsWith('#'))).toHaveLength(rows.length);
  });
});
