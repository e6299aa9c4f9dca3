// A small file system for full-disk tests (issue 11): tests that need a disk that fills up mount one
// in a temp dir and unmount it when done.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';

/** Mounts a small file system at `dir`: tmpfs, else a loop-mounted ext4 file. Throws when neither works. */
export function mountSmallFs(dir: string, sizeKiB: number): () => void {
  mkdirSync(dir, { recursive: true });
  const errors: string[] = [];
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir], { stdio: 'pipe' });
    return () => execFileSync('umount', [dir]);
  } catch (err) {
    errors.push(`tmpfs: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
  const img = `${dir}.img`;
  try {
    execFileSync('truncate', ['-s', `${sizeKiB}K`, img]);
    execFileSync('mkfs.ext4', ['-q', '-F', img], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'loop', img, dir], { stdio: 'pipe' });
    return () => {
      execFileSync('umount', [dir]);
      rmSync(img, { force: true });
    };
  } catch (err) {
    errors.push(`loop ext4: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
  throw new Error(
    `cannot mount a small file system for the full-disk test (run as root): ${errors.join('; ')}`,
  );
}
