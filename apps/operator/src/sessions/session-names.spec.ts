import { sessionObjectName } from './session-names';

describe('sessionObjectName', () => {
  it('keeps ids that are valid object names', () => {
    expect(sessionObjectName('s-123.abc')).toBe('s-123.abc');
  });
  it('maps other ids to distinct, valid names', () => {
    const a = sessionObjectName('Sess_One');
    const b = sessionObjectName('sess_one');
    expect(a).toMatch(/^sess-one-[0-9a-f]{10}$/);
    expect(b).toMatch(/^sess-one-[0-9a-f]{10}$/);
    expect(a).not.toBe(b);
    expect(sessionObjectName('___')).toMatch(/^s-[0-9a-f]{10}$/);
  });
});
