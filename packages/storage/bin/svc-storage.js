#!/usr/bin/env node
import { cli } from '../dist/src/main.js';
cli();
