// The directories a DU's container root stacks, lowest first: an OCI image's layers from the shared store,
// or for a package DU (tar.gz, SquashFS, a root file system of its own) its unpacked root.
import { lowerDirs } from '../../image/image-record.js';
import type { DURecord } from '../../types.js';

export const layersOf = (du: DURecord): readonly string[] => (du.image ? lowerDirs(du.image) : [du.root]);
