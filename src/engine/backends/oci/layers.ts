// The directories a DU's container root stacks, lowest first. A package DU (tar.gz, SquashFS) is a root
// file system of its own: its unpacked root is its only layer. An OCI image DU (the image store's record)
// adds its layers here: `du.image ? lowerDirs(du.image) : [du.root]` (image/image-record.ts).
import type { DURecord } from '../../types.js';

export const layersOf = (du: DURecord): readonly string[] => [du.root];
