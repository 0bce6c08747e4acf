import { fleetVersions, naturalCompare } from '../../domain/fleet-versions';

describe('naturalCompare', () => {
  it('orders numbers inside keys by value, and never calls distinct keys equal', () => {
    expect(['m10', 'm2', 'm1', 'M3', 'm02'].sort(naturalCompare)).toEqual(['m1', 'm02', 'm2', 'M3', 'm10']);
    expect(['1.10.0', '1.9.0', '1.9.10', '1.9.2'].sort(naturalCompare)).toEqual(['1.9.0', '1.9.2', '1.9.10', '1.10.0']);
    expect(naturalCompare('a', 'A')).not.toBe(0);
  });
});

describe('fleetVersions', () => {
  it('merges presence and upgrading rows, newest version first and unreported last', () => {
    const view = fleetVersions(
      'p',
      [
        { version: null, online: false, n: 1 },
        { version: '1.9.0', online: true, n: 2 },
        { version: '1.10.0', online: false, n: 3 },
        { version: '1.9.0', online: false, n: 1 },
      ],
      [
        { version: '1.9.0', n: 2 },
        { version: '0.1.0', n: 5 }, // not in the registry's counts: left out
      ],
    );
    expect(view).toEqual({
      productKey: 'p',
      total: 7,
      online: 2,
      upgrading: 2,
      versions: [
        { version: '1.10.0', total: 3, online: 0, offline: 3, upgrading: 0 },
        { version: '1.9.0', total: 3, online: 2, offline: 1, upgrading: 2 },
        { version: null, total: 1, online: 0, offline: 1, upgrading: 0 },
      ],
    });
  });
});
