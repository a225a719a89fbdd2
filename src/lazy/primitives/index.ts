// Importing this module registers every primitive.
import './leaves.js';
import './elementwise.js';
import './reduce.js';
import './movement.js';
import './indexing.js';
import './linalg.js';
